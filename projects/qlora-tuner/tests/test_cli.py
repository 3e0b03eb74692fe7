"""The command line as a user runs it: help, one-line errors, make-task, train, eval, merge."""

import json

import pytest
from qlora_tuner.cli import main

COMMANDS = ["make-task", "train", "eval", "merge", "demo", "bench"]


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main(["--help"] if command is None else [command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    return err


def test_bad_input_is_one_line(capsys, chat_file, tmp_path):
    assert "--rank must be > 0" in one_line_error(capsys, ["train", "--data", str(chat_file),
                                                           "--rank", "0"])
    err = one_line_error(capsys, ["train", "--data", str(chat_file), "--model", "tiny-llama",
                                  "--target-modules", "c_attn", "--device", "cpu",
                                  "--output", str(tmp_path / "r")])
    assert "c_attn" in err and "q_proj" in err and "down_proj" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, '
                   '{"role": "assistant", "content": "yo"}]}\n{"instruction": "x"}\n')
    err = one_line_error(capsys, ["train", "--data", str(bad), "--model", "tiny-llama",
                                  "--device", "cpu", "--output", str(tmp_path / "r")])
    assert "bad.jsonl:2" in err and "output" in err
    assert "neither an adapter nor a model" in one_line_error(
        capsys, ["eval", "--adapter", str(tmp_path), "--data", str(chat_file)])
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_make_task_train_eval_merge(capsys, tmp_path):
    data = tmp_path / "data"
    assert main(["make-task", "--output", str(data), "--train-size", "16", "--eval-size", "4"]) == 0
    assert last_json(capsys)["eval"].endswith("eval.jsonl")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data / "train.jsonl"), "--output", str(run), "--method",
                 "qlora", "--model", "tiny-llama", "--steps", "2", "--batch-size", "4",
                 "--save-every", "1", "--device", "cpu", "--rslora"]) == 0
    summary = last_json(capsys)
    assert summary["steps"] == 2 and 0 < summary["trainable_fraction"] < 1
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (run / "adapter" / name).is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000001",
                                                                        "step-000002"]
    assert main(["eval", "--adapter", str(run / "adapter"), "--data", str(data / "eval.jsonl"),
                 "--json", "--max-new-tokens", "4", "--device", "cpu"]) == 0
    # 2 steps on a random model cannot write "Ada Lovelace, 36 years old."
    assert last_json(capsys) == {"accuracy": 0.0, "correct": 0, "total": 4}
    assert main(["merge", "--adapter", str(run / "adapter"), "--output", str(tmp_path / "m"),
                 "--device", "cpu"]) == 0
    report = last_json(capsys)
    assert report["drift_vs_adapter"] < 1e-3 and report["method"] == "qlora"
    # Exact match against transformers' own greedy answer, planted as the reference of 2 of 4.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompt = [{"role": "user", "content": "Format: Ada Lovelace, 36"}]
    hf_tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    hf_model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    ids = hf_tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                     return_dict=True)["input_ids"]
    greedy = hf_model.generate(ids, max_new_tokens=4, do_sample=False,
                               pad_token_id=hf_tok.pad_token_id)
    answer = hf_tok.decode(greedy[0, ids.shape[1]:], skip_special_tokens=True).strip()
    planted = tmp_path / "planted.jsonl"
    planted.write_text("".join(json.dumps({"messages": [*prompt, {"role": "assistant",
                                                                   "content": reply}]}) + "\n"
                               for reply in (answer, "not it", answer, "nor this")))
    assert main(["eval", "--adapter", str(tmp_path / "m"), "--data", str(planted), "--json",
                 "--max-new-tokens", "4", "--device", "cpu"]) == 0
    assert last_json(capsys) == {"accuracy": 0.5, "correct": 2, "total": 4}
    # the adapter of a tiny base on the real model: refused in one line
    err = one_line_error(capsys, ["eval", "--adapter", str(run / "adapter"), "--data",
                                  str(data / "eval.jsonl"), "--model", "smollm2-135m-instruct",
                                  "--device", "cpu"])
    assert "trained on a base" in err


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--model", "tiny-llama", "--steps", "2", "--train-size", "8",
                 "--eval-size", "4", "--device", "cpu", "--layers-from", "1"]) == 0
    out = last_json(capsys)
    assert set(out) >= {"accuracy_before", "accuracy_after", "trainable_fraction"}
    assert 0 < out["trainable_fraction"] < 0.01


def test_damaged_adapter_config_is_one_line(capsys, tmp_path, chat_file):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    (adapter / "adapter_config.json").write_text('{"r": 4,')  # cut short
    err = one_line_error(capsys, ["eval", "--adapter", str(adapter), "--data", str(chat_file)])
    assert "damaged adapter config" in err
    (adapter / "adapter_config.json").write_text('{"r": 4}')
    err = one_line_error(capsys, ["eval", "--adapter", str(adapter), "--data", str(chat_file)])
    assert "missing target_modules, lora_alpha" in err


def test_unwritable_output_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = one_line_error(capsys, ["make-task", "--output", str(blocker / "data")])
    assert "Not a directory" in err


def test_bench_subprocess_has_a_timeout(monkeypatch):
    import subprocess

    from llm_shared import UserError
    from qlora_tuner import benchmark

    def hangs(cmd, **kwargs):
        assert kwargs["timeout"] == benchmark.METHOD_TIMEOUT_S
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(benchmark.subprocess, "run", hangs)
    with pytest.raises(UserError, match="bench of full took over 1800 s"):
        benchmark.run_bench("tiny-llama", steps=1, repeats=1, batch_size=1, seq_len=8)
