"""The command-line contract: rope, attention, passkey; one-line errors with exit code 2."""

import json

import pytest
import torch
from long_context.attention import sdpa_attention
from long_context.cli import main
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

COMMANDS = ["rope", "attention", "passkey", "needle", "stream", "bench", "demo"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(([command] if command else []) + ["--help"])
    assert exc.value.code == 0


def _one_line_error(capsys, fragment):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and fragment in err, err


def test_rope_4x_config_equals_transformers(tmp_path, capsys):
    config = {
        "hidden_size": 576,
        "num_attention_heads": 9,
        "max_position_embeddings": 2048,
        "rope_theta": 100000.0,
        "rope_scaling": {"type": "dynamic", "factor": 2.0},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main(["rope", "--config", str(path), "--seq-len", "5000", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    theirs, factor = ROPE_INIT_FUNCTIONS["dynamic"](LlamaConfig(**config), "cpu", seq_len=5000)
    assert result["rope_type"] == "dynamic" and result["attention_factor"] == factor
    torch.testing.assert_close(torch.tensor(result["inv_freq"]), theirs, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"rope_type": "ntk2", "factor": 2.0}, "supported: default, linear, ntk, dynamic, yarn"),
        ({"rope_type": "linear", "factor": 0.5}, "factor must be >= 1"),
    ],
)
def test_rope_bad_config_is_one_line_error(tmp_path, capsys, params, fragment):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"hidden_size": 64, "num_attention_heads": 4, "rope_parameters": params})
    )
    assert main(["rope", "--config", str(path)]) == 2
    _one_line_error(capsys, fragment)


def test_attention_file_round_trip_equals_sdpa(tmp_path):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 6, 5, 16), torch.randn(2, 2, 23, 16), torch.randn(2, 2, 23, 16)
    save_file({"q": q, "k": k, "v": v}, tmp_path / "qkv.safetensors")
    out = tmp_path / "out.safetensors"
    assert (
        main(
            [
                "attention",
                "--input",
                str(tmp_path / "qkv.safetensors"),
                "--output",
                str(out),
                "--causal",
                "--block-size",
                "4",
            ]
        )
        == 0
    )
    torch.testing.assert_close(
        load_file(out)["out"], sdpa_attention(q, k, v, causal=True), atol=1e-5, rtol=1e-5
    )


def test_attention_heads_not_divisible_is_refused_without_output(tmp_path, capsys):
    save_file(
        {"q": torch.zeros(1, 5, 4, 8), "k": torch.zeros(1, 2, 4, 8), "v": torch.zeros(1, 2, 4, 8)},
        tmp_path / "qkv.safetensors",
    )
    out = tmp_path / "out.safetensors"
    assert (
        main(["attention", "--input", str(tmp_path / "qkv.safetensors"), "--output", str(out)]) == 2
    )
    _one_line_error(capsys, "multiple of key/value heads")
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "qkv.safetensors"]


def test_passkey_too_short_is_refused_without_output(tmp_path, capsys):
    trials = tmp_path / "trials.jsonl"
    trials.write_text(json.dumps({"passkey": "48213", "length": 20, "depth": 0.5}) + "\n")
    out = tmp_path / "run"
    assert (
        main(["passkey", "--trials", str(trials), "--model", "tiny-llama", "--output", str(out)])
        == 2
    )
    _one_line_error(capsys, "too short for its passkey")
    assert not out.exists()


def test_passkey_writes_records_and_heatmap(tmp_path, capsys):
    trials = tmp_path / "trials.jsonl"
    lines = [
        {"passkey": "48213", "length": 120, "depth": 0.0},
        {"passkey": "90210", "length": 200, "depth": 1.0},
    ]
    trials.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "run"
    assert (
        main(
            [
                "passkey",
                "--trials",
                str(trials),
                "--model",
                "tiny-llama",
                "--rope-scaling",
                "yarn",
                "--factor",
                "2",
                "--output",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    records = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert summary["n"] == 2 and summary["accuracy"] == sum(r["correct"] for r in records) / 2
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    for line, record in zip(lines, records, strict=True):
        assert record["passkey"] == line["passkey"] and record["max_new_tokens"] == 12
        assert abs(record["prompt_tokens"] - line["length"]) <= 0.05 * line["length"]
        assert "The pass key is " + line["passkey"] in record["prompt"]
    # depth 0 puts the key right after the header; depth 1 right before the question
    assert records[0]["prompt"].index(lines[0]["passkey"]) < 200
    assert (
        records[1]["prompt"]
        .rstrip()
        .endswith("is the pass key. What is the pass key? The pass key is")
    )
    assert (
        main(["passkey", "--trials", str(trials), "--model", "tiny-llama", "--output", str(out)])
        == 2
    )
    _one_line_error(capsys, "--overwrite")


def test_factor_below_one_is_refused(tmp_path, capsys):
    trials = tmp_path / "t.jsonl"
    trials.write_text('{"passkey": "1", "length": 100, "depth": 0}\n')
    assert (
        main(
            [
                "passkey",
                "--trials",
                str(trials),
                "--output",
                str(tmp_path / "o"),
                "--rope-scaling",
                "linear",
                "--factor",
                "0.5",
            ]
        )
        == 2
    )
    _one_line_error(capsys, "--factor must be >= 1")


def test_demo_last_line_is_json_with_the_figures(capsys):
    argv = [
        "demo",
        "--model",
        "tiny-llama",
        "--passkey-length",
        "128",
        "--passkey-trials",
        "1",
        "--attention-tokens",
        "300",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["rope_max_abs_diff"] <= 1e-6
    assert result["attention_max_abs_diff"] <= 1e-5
    assert result["passkey_n"] == 1 and result["passkey_accuracy"] in (0.0, 1.0)
    # 300 tokens x 9 heads x 64 x 4 bytes: the output alone is 0.66 MiB
    assert result["attention_peak_mb"] >= 0.6
