import json

import pytest
from mcts_reasoner.cli import main


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    return err


def test_help_of_every_command_exits_zero(capsys):
    for argv in (["--help"], ["check", "--help"], ["solve", "--help"], ["generate", "--help"],
                 ["demo", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0


def test_check_json_counts(tmp_path, capsys):
    rows = [
        {"task": "arithmetic", "problem": {"question": "q", "answer": "3/4"},
         "completion": "<answer>0.75</answer>"},
        {"task": "word", "problem": {"question": "q", "answer": "5"}, "completion": "five"},
        {"task": "logic", "problem": {"question": "q", "answer": "?"},
         "completion": "<answer>1</answer>"},
        {"task": "countdown", "problem": {"numbers": [1, 2], "target": 3},
         "completion": "<answer>1 * 2</answer>"},
    ]
    assert main(["check", "--input", str(_write(tmp_path / "c.jsonl", rows)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["verdict"] for r in out["results"]] == ["correct", "parse_failure", "invalid_gold",
                                                      "wrong"]
    assert out["counts"] == {"correct": 1, "wrong": 1, "parse_failure": 1, "invalid_gold": 1}
    assert out["results"][0] == {"verdict": "correct", "score": 1.0, "extracted": "0.75"}


@pytest.mark.parametrize(("line", "needle"), [
    ("{not json", "c.jsonl:2: not valid JSON"),
    ('{"task": "poetry", "problem": {}, "completion": ""}', "unknown task 'poetry'"),
    ('{"task": "word", "completion": ""}', "c.jsonl:2: missing field 'problem'"),
    ('{"task": "word", "problem": {}, "completion": 3}', "field 'completion' must be a string"),
])
def test_check_malformed_line_names_line_and_field(tmp_path, capsys, line, needle):
    good = {"task": "word", "problem": {"question": "q", "answer": "1"}, "completion": ""}
    assert main(["check", "--input", str(_write(tmp_path / "c.jsonl", [good, line]))]) == 2
    assert needle in _error(capsys)
    assert capsys.readouterr().out == ""


def test_generate_is_seeded(capsys):
    assert main(["generate", "--task", "countdown", "--n", "3", "--seed", "7"]) == 0
    first = capsys.readouterr().out
    main(["generate", "--task", "countdown", "--n", "3", "--seed", "7"])
    assert capsys.readouterr().out == first and len(first.splitlines()) == 3


def test_solve_with_the_solver(tmp_path, capsys):
    problems = _write(tmp_path / "p.jsonl", [{"id": "a", "numbers": [2, 3, 4], "target": 20},
                                              {"id": "b", "numbers": [1, 1], "target": 9}])
    out = tmp_path / "out.jsonl"
    assert main(["solve", "--task", "countdown", "--problems", str(problems), "--strategy",
                 "solver", "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["accuracy"], summary["tokens"], summary["forward_passes"]) == (0.5, 0, 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["verdict"] == "correct" and rows[1]["completion"] is None
    assert rows[1]["verdict"] == "parse_failure"  # no solution: nothing to score


def test_solve_cot_on_tiny_llama(tmp_path, capsys):
    problems = _write(tmp_path / "p.jsonl", [{"id": 1, "question": "What is 1+1?", "answer": "2"}])
    out = tmp_path / "o.jsonl"
    assert main(["solve", "--task", "arithmetic", "--problems", str(problems), "--strategy",
                 "self-consistency", "--budget", "2", "--max-new-tokens", "3", "--model",
                 "tiny-llama", "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["tokens"] == 6 and summary["forward_passes"] == 3
    assert json.loads(out.read_text())["id"] == 1


@pytest.mark.parametrize(("extra", "needle"), [
    (["--budget", "0"], "--budget must be >= 1"),
    (["--task", "chess"], "unknown task 'chess'"),
    (["--strategy", "guess"], "unknown strategy 'guess'"),
    (["--strategy", "mcts"], "strategy 'mcts' is not implemented"),
    (["--verifier", "orm"], "--verifier orm is not implemented"),
    (["--strategy", "solver"], "countdown only"),
])
def test_solve_bad_options_write_nothing(tmp_path, capsys, extra, needle):
    problems = _write(tmp_path / "p.jsonl", [{"id": 1, "question": "q", "answer": "2"}])
    out = tmp_path / "o.jsonl"
    assert main(["solve", "--problems", str(problems), "--output", str(out), *extra]) == 2
    assert needle in _error(capsys) and not out.exists()


def test_solve_malformed_problem_and_existing_output(tmp_path, capsys):
    problems = _write(tmp_path / "p.jsonl", [{"id": 1, "numbers": [2, 3], "target": 5},
                                              {"id": 2, "numbers": [2, "x"], "target": 5}])
    out = tmp_path / "o.jsonl"
    assert main(["solve", "--task", "countdown", "--strategy", "solver", "--problems",
                 str(problems), "--output", str(out)]) == 2
    assert "p.jsonl:2: field 'numbers'" in _error(capsys) and not out.exists()
    out.write_text("keep me")
    good = _write(tmp_path / "g.jsonl", [{"id": 1, "numbers": [2, 3], "target": 5}])
    assert main(["solve", "--task", "countdown", "--strategy", "solver", "--problems",
                 str(good), "--output", str(out)]) == 2
    assert "--overwrite" in _error(capsys) and out.read_text() == "keep me"


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--model", "tiny-llama", "--problems", "1", "--budget", "2",
                 "--max-new-tokens", "4"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["checker_passed"] == last["checker_cases"] == 14
    assert last["solver_correct"] == last["solver_cases"] == 5
    assert (last["tokens_cot"], last["tokens_sc"]) == (4, 8)
