import json

import pytest
import torch
from mamba_moe.cli import COMMANDS, main
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    return err


@pytest.mark.parametrize("command", [None, *COMMANDS, "bench"])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0


def test_logits_command_matches_transformers(hf_mamba_dir, ids, tmp_path):
    (tmp_path / "ids.json").write_text(json.dumps(ids.tolist()))
    out = tmp_path / "logits.safetensors"
    assert main(["logits", "--model", str(hf_mamba_dir), "--input", str(tmp_path / "ids.json"),
                 "--output", str(out), "--scan", "sequential"]) == 0
    with torch.no_grad():
        ref = AutoModelForCausalLM.from_pretrained(hf_mamba_dir)(ids, use_cache=False).logits
    torch.testing.assert_close(load_file(str(out))["logits"], ref, atol=1e-4, rtol=0)


def test_generate_json(hf_mixtral_dir, tmp_path, capsys):
    (tmp_path / "ids.json").write_text("[[3, 4, 5], [6, 7, 8]]")
    assert main(["generate", "--model", str(hf_mixtral_dir), "--input",
                 str(tmp_path / "ids.json"), "--max-new-tokens", "3", "--json"]) == 0
    new = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["new_ids"]
    assert len(new) == 2 and all(len(row) == 3 for row in new)


def test_ids_outside_vocab_is_one_line_error(hf_mamba_dir, tmp_path, capsys):
    (tmp_path / "ids.json").write_text("[[1, 2, 64]]")
    assert main(["generate", "--model", str(hf_mamba_dir), "--input",
                 str(tmp_path / "ids.json")]) == 2
    assert "64 is outside the model's vocabulary 0…63" in _error(capsys)


def test_compare_json(hf_mixtral_dir, capsys):
    assert main(["compare", "--model", str(hf_mixtral_dir), "--seq-len", "16",
                 "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["max_abs_logit_diff"] < 1e-4 and result["greedy_ids_equal"] is True
    assert {"ours_s", "hf_s"} <= set(result)


def test_train_data_eval_round_trip_and_refusals(tmp_path, capsys):
    run = tmp_path / "run"
    tiny = ["--seq-len", "8", "--num-tokens", "2", "--vocab", "4"]
    assert main(["train", "--arch", "transformer", "--output", str(run), "--steps", "2",
                 "--batch-size", "4", "--hidden-size", "16", "--eval-examples", "8", *tiny]) == 0
    assert main(["train", "--output", str(run), "--steps", "2"]) == 2  # exists, no --overwrite
    assert "--overwrite" in _error(capsys)
    data = tmp_path / "test.jsonl"
    assert main(["data", "--output", str(data), "--examples", "5", *tiny]) == 0
    preds = tmp_path / "preds.jsonl"
    assert main(["eval", "--model", str(run), "--data", str(data), "--output", str(preds),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    hits = sum(p == t for line, row in zip(lines, rows, strict=False)
               for p, t in zip(line["prediction"], row["target"], strict=False))
    assert len(lines) == 5 and result["token_accuracy"] == round(hits / 10, 4)
    wrong = tmp_path / "wrong.jsonl"
    assert main(["data", "--output", str(wrong), "--examples", "2", "--seq-len", "8",
                 "--num-tokens", "3", "--vocab", "4"]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(run), "--data", str(wrong), "--output",
                 str(tmp_path / "p2.jsonl")]) == 2
    assert "K = 3" in _error(capsys)


def test_other_architecture_folder_is_one_line_error(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (tmp_path / "ids.json").write_text("[[1]]")
    assert main(["logits", "--model", str(tmp_path), "--input", str(tmp_path / "ids.json"),
                 "--output", str(tmp_path / "o.safetensors")]) == 2
    assert "MambaForCausalLM, MixtralForCausalLM" in _error(capsys)
    assert not (tmp_path / "o.safetensors").exists()


@pytest.mark.slow
def test_demo_last_line_is_json(capsys):
    assert main(["demo"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mamba_max_abs_logit_diff"] < 1e-4
    assert result["mixtral_max_abs_logit_diff"] < 1e-4
    assert result["selective_copy_accuracy"] >= 0.9
