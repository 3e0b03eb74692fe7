"""The command line: help, the JSON last line, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from model_families.cli import COMMANDS, main


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main(["--help"] if command is None else [command, "--help"])
    assert exc.value.code == 0


def one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_compare_json_last_line(capsys, tiny_dir):
    assert main(["compare", "--model", str(tiny_dir["gpt2"]), "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= {"family", "max_abs_logit_diff", "params", "ours_s", "hf_s"}
    assert result["family"] == "gpt2" and result["max_abs_logit_diff"] <= 1e-4


def test_compare_refuses_unsupported_option(capsys, save):
    folder = save("llama", attention_bias=True)
    one_line_error(capsys, ["compare", "--model", str(folder)], "attention_bias")


def test_compare_without_config(capsys, tmp_path):
    one_line_error(capsys, ["compare", "--model", str(tmp_path)], "config.json")


def test_bad_flag_values_are_one_line_errors(capsys):
    one_line_error(capsys, ["generate", "--max-tokens", "0"], "--max-tokens")
    one_line_error(capsys, ["compare", "--repeats", "0"], "--repeats")
    one_line_error(capsys, ["fill-mask"], "--model")


def test_generate_on_smollm2_equals_hf(capsys):
    argv = ["generate", "--prompt", "Paris is", "--max-tokens", "6", "--check-hf", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["equal_to_hf"] is True and result["new_tokens"] == 6


def test_generate_needs_tokenizer_files(capsys, tiny_dir):
    one_line_error(capsys, ["generate", "--model", str(tiny_dir["gpt2"])], "tokenizer")


def test_generate_refuses_bert(capsys):
    one_line_error(capsys, ["generate", "--model", "all-minilm-l6-v2"], "fill-mask")


def test_fill_mask_needs_an_mlm_head(capsys):
    one_line_error(capsys, ["fill-mask", "--model", "all-minilm-l6-v2"], "BertForMaskedLM")


def test_table_json(capsys):
    assert main(["table", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]
    assert [r["family"] for r in rows] == ["bert", "gpt2", "t5", "t5", "llama"]


@pytest.mark.slow
def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--max-tokens", "4"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for family in ("llama", "bert", "gpt2", "t5"):
        assert result[f"{family}_max_abs_diff"] <= 1e-4
    assert result["llama_generate_equal"] and result["t5_generate_equal"]
