import json
import signal
import sys
import time
from pathlib import Path

import pytest
from llm_fullstack.catalog import BY_PROJECT, CHAPTERS, PARTS
from llm_fullstack.cli import judge, main, matrix
from llm_fullstack.runner import RunResult, last_json_line, pytest_counts, run_streaming
from llm_fullstack.scaffold import scaffold


def test_syllabus_shape():
    assert len(CHAPTERS) == 28 and len(PARTS) == 7
    assert [sum(c.part == p for c in CHAPTERS) for p in PARTS] == [3, 3, 4, 4, 5, 4, 5]
    assert len(BY_PROJECT) == 28
    assert BY_PROJECT["paged-kv-server"].label == "6.2"
    assert BY_PROJECT["bpe-tokenizer"].package == "bpe_tokenizer"


@pytest.mark.parametrize("line,expected", [
    ("===== 12 passed, 2 skipped in 3.40s =====", {"passed": 12, "failed": 0, "errors": 0,
                                                  "skipped": 2}),
    ("1 failed, 3 passed, 1 error in 0.5s", {"passed": 3, "failed": 1, "errors": 1,
                                              "skipped": 0}),
    ("no tests ran in 0.01s", {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}),
])
def test_pytest_counts(line, expected):
    assert pytest_counts(f"collected\n{line}\n") == expected


def test_last_json_line():
    assert last_json_line('hello\n{"a": 1}\n\n') == {"a": 1}
    assert last_json_line('{"a": 1}\nbye\n') is None
    assert last_json_line("[1, 2]") is None


def test_matrix_lists_shared_and_repo(capsys):
    assert main(["matrix"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [row["name"] for row in data["include"]]
    assert names[:2] == ["shared", "repo"]
    assert all(name in BY_PROJECT for name in names[2:])


def test_matrix_follows_folders(tmp_path):
    (tmp_path / "projects" / "sae-probe").mkdir(parents=True)
    (tmp_path / "projects" / "sae-probe" / "pyproject.toml").write_text("")
    assert [r["name"] for r in matrix(tmp_path)["include"]] == ["shared", "repo", "sae-probe"]


def test_scaffold_writes_a_conventional_project(tmp_path):
    target = scaffold("llm-eval", tmp_path)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "src/llm_eval/__init__.py",
                     "src/llm_eval/cli.py", "src/llm_eval/config.py", "src/llm_eval/demo.py",
                     "tests/conftest.py", "tests/test_cli.py"]
    pyproject = (target / "pyproject.toml").read_text()
    assert 'llm-eval = "llm_eval.cli:main"' in pyproject
    assert "模型评估体系" in (target / "README.md").read_text()
    for path in target.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    with pytest.raises(FileExistsError):
        scaffold("llm-eval", tmp_path)


def test_new_rejects_names_outside_the_syllabus(capsys):
    assert main(["new", "my-chatbot"]) == 2
    assert "not a syllabus project" in capsys.readouterr().err


def test_test_rejects_unknown_names(capsys):
    assert main(["test", "nope"]) == 2
    assert "unknown project 'nope'" in capsys.readouterr().err


def test_list_json(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 28 and {"project", "available", "title_zh"} <= set(rows[0])


_SILENT_HANG = """
import subprocess, sys, time
grandchild = subprocess.Popen(["sleep", "20"])
print(grandchild.pid, flush=True)
time.sleep(20)  # silent: no line arrives to wake a loop that checks its clock per line
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def test_runner_kills_a_silent_hang_and_its_children(tmp_path):
    run = run_streaming([sys.executable, "-c", _SILENT_HANG], tmp_path, timeout=2, echo=False)
    assert run.timed_out and run.returncode == -signal.SIGKILL
    grandchild = int(run.output.splitlines()[0])
    assert run.output.endswith("[killed after 2 s]\n")
    for _ in range(50):  # the kernel finishes the kill asynchronously
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_runner_returns_output_and_code(tmp_path):
    run = run_streaming([sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"],
                        tmp_path, timeout=60, echo=False)
    assert (run.output, run.returncode, run.timed_out) == ("a\nb\n", 3, False)


@pytest.mark.parametrize("code,output,ci,expected", [
    (0, "3 passed in 1.0s", False, None),
    (0, "no tests ran in 0.01s", False, "no test passed"),
    (0, "1 failed, 3 passed in 0.5s", False, "1 failed, 0 errors"),
    (1, "1 failed, 3 passed in 0.5s", False, "exit 1"),
    (0, "SKIPPED [2] tests/t.py:5: could not import 'trl'\n3 passed, 2 skipped in 1s", False, None),
    (0, "SKIPPED [2] tests/t.py:5: could not import 'trl'\n3 passed, 2 skipped in 1s", True,
     "2 skipped under CI"),
    (0, "SKIPPED [1] tests/t.py:9: needs CUDA\n3 passed, 1 skipped in 1s", True, None),
    (0, "SKIPPED [1] tests/t.py:9: needs CUDA\n3 passed, 2 skipped in 1s", True,
     "1 skipped under CI"),
])
def test_judge(code, output, ci, expected):
    assert judge(RunResult(code, output, 1.0), pytest_counts(output), ci=ci) == expected


def test_cmd_test_fails_a_skipping_target_under_ci(monkeypatch, capsys):
    from llm_fullstack import cli

    seen = []

    def fake_run(command, cwd, **kwargs):
        seen.append(command)
        return RunResult(0, "SKIPPED [15] tests/test_losses.py:24: could not import 'trl'\n"
                            "4 passed, 15 skipped in 2.0s\n", 2.0)

    monkeypatch.setattr(cli, "run_streaming", fake_run)
    monkeypatch.delenv("CI", raising=False)
    assert main(["test", "shared"]) == 0
    monkeypatch.setenv("CI", "true")
    assert main(["test", "shared"]) == 1
    assert "failed targets: shared" in capsys.readouterr().out
    assert all("-rs" in command for command in seen)
