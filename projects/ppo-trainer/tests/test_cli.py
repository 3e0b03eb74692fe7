"""The command line: every subcommand's --help, one-line errors for bad input (exit 2), and a
tiny end-to-end train -> metrics.jsonl -> plot PNG run, plus train-rm on the tiny model."""

import json

import pytest
from ppo_trainer.cli import main


@pytest.mark.parametrize("command", [[], ["train"], ["train-rm"], ["plot"], ["demo"], ["bench"]])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize("argv,words", [
    (["train", "--algo", "grpo", "--group-size", "1", "--output", "x"], "group-size >= 2"),
    (["train", "--steps", "0", "--output", "x"], "--steps"),
    (["train", "--rewards", "correct", "--output", "x"], "one weight per reward"),
    (["train", "--model", "tiny-llama"], "--output"),
    (["train", "--model", "tiny-llama", "--output", "OUT", "--rewards", "nope",
      "--reward-weights", "1"], "unknown reward"),
    (["plot", "/nonexistent-run-dir"], "metrics.jsonl"),
    (["train-rm", "--model", "tiny-llama", "--output", "OUT", "--pairs", "/no/pairs.jsonl"],
     "not found"),
    (["demo", "--steps", "0"], "--steps"),
])
def test_bad_input_is_one_line_error(capsys, tmp_path, argv, words):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and words in err


def test_prompt_longer_than_context_limit_is_an_error(capsys, tmp_path):
    assert main(["train", "--model", "tiny-llama", "--output", str(tmp_path), "--steps", "1",
                 "--max-prompt-tokens", "8", "--eval-prompts", "0"]) == 2
    assert "max-prompt-tokens" in capsys.readouterr().err


def test_prompt_plus_response_beyond_model_context_is_an_error(capsys, tmp_path):
    assert main(["train", "--model", "tiny-llama", "--output", str(tmp_path),
                 "--max-prompt-tokens", "2000", "--max-new-tokens", "100"]) == 2
    assert "context of 2048" in capsys.readouterr().err


def test_train_then_plot_writes_metrics_and_png(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--model", "tiny-llama", "--algo", "rloo", "--output", str(out),
                 "--steps", "2", "--prompts-per-step", "1", "--group-size", "2",
                 "--max-new-tokens", "3", "--eval-prompts", "2", "--eval-samples", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["algo"] == "rloo"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for key in ("reward_mean", "reward_std", "kl", "entropy", "clip_frac", "response_length"):
        assert key in rows[0]
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "checkpoint" / "policy" / "config.json").is_file()
    assert main(["plot", str(out), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_train_rm_then_ppo_with_the_reward_model(capsys, tmp_path):
    rm = tmp_path / "rm"
    assert main(["train-rm", "--model", "tiny-llama", "--output", str(rm), "--num-pairs", "8",
                 "--batch-size", "4"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["train_pairs"], result["eval_pairs"]) == (6, 2)  # 8 pairs, 25 % held out
    assert json.loads((rm / "train_rm.json").read_text()) == result
    assert main(["train", "--model", "tiny-llama", "--algo", "ppo", "--output",
                 str(tmp_path / "ppo"), "--steps", "1", "--prompts-per-step", "2",
                 "--group-size", "1", "--max-new-tokens", "3", "--eval-prompts", "0",
                 "--reward-model", str(rm), "--rewards", "none"]) == 0
    row = json.loads((tmp_path / "ppo" / "metrics.jsonl").read_text().splitlines()[0])
    assert "reward/reward_model" in row and "value_loss" in row
