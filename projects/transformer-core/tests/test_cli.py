"""The command line: help, the one-line errors (exit 2, nothing written), predict / attention /
check / info / demo outputs."""

from __future__ import annotations

import json

import pytest
from transformer_core.cli import COMMANDS, main


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"] if command is None else [command, "--help"])
    assert exc.value.code == 0


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    return err


def test_predict_writes_one_answer_per_line(tiny_run, tmp_path, capsys):
    inputs = tmp_path / "in.txt"
    inputs.write_text("3 9 1 4\n\n0 0 7\n5\n")
    out = tmp_path / "out.txt"
    for beam in ("1", "3"):
        assert main(["predict", "--model", str(tiny_run), "--input", str(inputs),
                     "--output", str(out), "--beam", beam]) == 0
        answers = out.read_text().splitlines()
        assert len(answers) == 3  # blank lines skipped
        assert all(token in "0123456789" for line in answers for token in line.split())
        assert _last_json(capsys) == {"task": "reverse", "lines": 3, "beam": int(beam)}


@pytest.mark.parametrize("line, fragment", [
    ("3 9 x", "line 2: '3 9 x' has tokens outside the digits 0-9"),
    ("12 + 34", "line 2: '12 + 34' has tokens outside the digits 0-9"),  # an add input
    (" ".join(["1"] * 70), "more than this model's maximum"),
])
def test_predict_bad_input_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys, line,
                                                          fragment):
    inputs = tmp_path / "in.txt"
    inputs.write_text(f"1 2\n{line}\n")
    out = tmp_path / "out.txt"
    assert main(["predict", "--model", str(tiny_run), "--input", str(inputs),
                 "--output", str(out)]) == 2
    assert fragment in _one_line_error(capsys)
    assert not out.exists()


def test_predict_with_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("1 2\n")
    assert main(["predict", "--model", str(tmp_path), "--input", str(tmp_path / "in.txt"),
                 "--output", str(tmp_path / "o.txt")]) == 2
    assert "is not a transformer-core run" in _one_line_error(capsys)


def test_train_refuses_bad_flags(tmp_path, capsys):
    assert main(["train", "--output", str(tmp_path / "r"), "--steps", "0"]) == 2
    assert "--steps must be > 0" in _one_line_error(capsys)


def test_attention_writes_one_png_per_block(tiny_run, tmp_path, capsys):
    assert main(["attention", "--model", str(tiny_run), "--input", "3 9 1 4",
                 "--out", str(tmp_path / "maps")]) == 0
    names = sorted(p.name for p in (tmp_path / "maps").glob("*.png"))
    assert names == ["decoder_0_cross.png", "decoder_0_self.png", "encoder_0_self.png"]
    assert len(_last_json(capsys)["heatmaps"]) == 3


def test_check_json_differences_are_below_1e5(capsys):
    assert main(["check", "--json"]) == 0
    result = _last_json(capsys)
    assert set(result) >= {"mha_max_abs_diff", "transformer_max_abs_diff", "grad_max_abs_diff"}
    assert max(result.values()) <= 1e-5


def test_info_counts_the_papers_base_model(capsys):
    # The paper's base model: 65M parameters (Table 3) with a 37000-token shared vocabulary;
    # ours ties the embeddings and the output projection as the paper does.
    assert main(["info"]) == 0
    total = _last_json(capsys)["total_parameters"]
    assert 60_000_000 < total < 66_000_000
    assert total == 37000 * 512 + 6 * 3_152_384 + 6 * 4_204_032


def test_demo_runs_and_ends_with_its_json(tmp_path, capsys):
    assert main(["demo", "--steps", "3", "--eval-size", "20", "--out", str(tmp_path / "demo")]) == 0
    result = _last_json(capsys)
    assert set(result) == {"reverse_exact_match", "add_exact_match", "mha_max_abs_diff",
                           "transformer_max_abs_diff", "grad_max_abs_diff", "seconds"}
    assert (tmp_path / "demo" / "attention" / "decoder_1_cross.png").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path / "mine")]) == 2
    assert "not made by the demo" in _one_line_error(capsys)
