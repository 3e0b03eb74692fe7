"""The command line: --help of every subcommand, one-line errors, generate, bench, demo, serve."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from llm_shared import UserError
from paged_kv_server.cli import main

TINY = ["--model", "tiny-llama", "--device", "cpu", "--kv-cache-mb", "8"]


@pytest.mark.parametrize("command", [[], ["serve"], ["generate"], ["bench"], ["demo"]])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["demo", "--max-tokens", "0"], "max-tokens"),
    (["serve", "--port", "70000"], "port"),
    (["serve", "--backend", "vllm", *TINY], "vllm"),
    (["generate", "--input", "missing.jsonl", "--output", "o.jsonl"], "missing.jsonl"),
    (["bench", "--block-size", "0"], "block-size"),
])
def test_bad_input_is_one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and needle in err


def test_vllm_backend_passes_every_flag_or_refuses_it():
    from paged_kv_server.cli import vllm_argv
    from paged_kv_server.config import ServeConfig

    argv = vllm_argv(ServeConfig(model="tiny-llama", dtype="bfloat16", block_size=32,
                                 max_num_batched_tokens=1024, enable_prefix_caching=False,
                                 num_blocks=100, seed=3), "m")
    assert "--no-enable-prefix-caching" in argv and "--enable-chunked-prefill" in argv
    assert argv[argv.index("--dtype") + 1] == "bfloat16"
    assert argv[argv.index("--block-size") + 1] == "32"
    assert argv[argv.index("--max-num-batched-tokens") + 1] == "1024"
    assert argv[argv.index("--num-gpu-blocks-override") + 1] == "100"
    assert argv[argv.index("--seed") + 1] == "3"
    for change, words in [({"kv_cache_mb": 64}, "--kv-cache-mb"), ({"max_queue": 8}, "queue"),
                          ({"threads": 2}, "--threads"), ({"dtype": "float64"}, "float64"),
                          ({"device": "cpu"}, "--device cpu")]:
        with pytest.raises(UserError, match=words):
            vllm_argv(ServeConfig(**change), "m")


def test_generate_jsonl_round_trip(tmp_path, capsys):
    src = tmp_path / "prompts.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in [
        {"prompt": "What is paging?", "id": "a"},
        {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
        {"prompt_ids": [1, 2, 3, 4], "n": 2, "temperature": 0.7, "seed": 1},
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--input", str(src), "--output", str(out), "--max-tokens", "5",
                 *TINY]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", 1, 2, 2] and [r["index"] for r in rows] == [0, 0, 0, 1]
    assert [r["num_output_tokens"] for r in rows][:2] == [5, 3]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["prompts"] == 3 and summary["generated_tokens"] == sum(
        r["num_output_tokens"] for r in rows)


def test_generate_rejects_a_bad_line_without_writing(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"prompt": "ok"}\n{"oops": 1}\n')
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--input", str(src), "--output", str(out), *TINY]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err and not out.exists()


def test_bench_json_last_line(capsys):
    assert main(["bench", "--json", "--num-prompts", "6", "--max-tokens", "6", "--repeats", "2",
                 "--skip-sequential", *TINY]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["num_prompts"], result["max_tokens"], result["dtype"], result["repeats"]) == \
        (6, 6, "float32", 2)
    assert result["free_blocks_after"].split("/")[0] == result["free_blocks_after"].split("/")[1]
    # The utilisation figures are pinned by test_engine.py::test_kv_utilisation_worked_example;
    # here: the ratio is the one of the two medians printed beside it.
    assert result["speedup_vs_padded"] == pytest.approx(
        result["tokens_per_s"] / result["hf_padded_tokens_per_s"], rel=0.01)


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--num-requests", "4", "--max-tokens", "4", *TINY]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"tokens_per_s", "hf_tokens_per_s", "speedup"} <= result.keys()
    assert result["free_blocks"] == result["num_blocks"]


def test_serve_answers_and_stops_cleanly_on_sigterm():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "paged_kv_server.cli", "serve", "--port",
                             str(port), *TINY], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/completions",
                       json={"prompt": "hello", "max_tokens": 3})
        assert r.json()["usage"]["completion_tokens"] == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
