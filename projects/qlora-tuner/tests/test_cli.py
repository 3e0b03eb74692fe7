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
    result = last_json(capsys)
    assert result["total"] == 4 and 0 <= result["accuracy"] <= 1
    assert main(["merge", "--adapter", str(run / "adapter"), "--output", str(tmp_path / "m"),
                 "--device", "cpu"]) == 0
    report = last_json(capsys)
    assert report["drift_vs_adapter"] < 1e-3 and report["method"] == "qlora"
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
