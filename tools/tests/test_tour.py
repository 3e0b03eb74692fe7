"""The catalog as a newcomer meets it: tours by path/part, the report card, the recorded figures,
the fast-tier budget warning, and a scaffold that passes the repo's own convention tests."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from llm_fullstack import cli, measured
from llm_fullstack.catalog import BY_LABEL, CHAPTERS, PATHS, available, path_chapters
from llm_fullstack.report import last_error_line
from llm_fullstack.runner import RunResult
from llm_fullstack.scaffold import mark_available, scaffold

REPO = Path(__file__).resolve().parents[2]


def test_paths_follow_the_readme_order():
    assert [c.label for c in path_chapters("app")][:4] == ["1.1", "1.2", "1.3", "4.1"]
    assert path_chapters("app")[-1].project == "hf-pipeline"
    assert [c.label for c in path_chapters("model")][-1] == "3.3"
    assert [c.project for c in path_chapters("research")][5:] == [
        "preference-tuner", "agent-graph", "zero-trainer"]
    for labels in (p[1] for p in PATHS.values()):
        assert len(set(labels)) == len(labels) and set(labels) <= set(BY_LABEL)


def _fake_root(tmp_path: Path, projects: list[str]) -> Path:
    for name in projects:
        (tmp_path / "projects" / name).mkdir(parents=True)
        (tmp_path / "projects" / name / "pyproject.toml").write_text("")
    return tmp_path


def test_path_tour_runs_available_chapters_in_order_and_skips_planned(tmp_path, monkeypatch,
                                                                      capsys):
    root = _fake_root(tmp_path / "ws", ["rag-engine", "bpe-tokenizer", "paged-kv-server"])
    monkeypatch.setenv("LLM_FULLSTACK_ROOT", str(root))
    ran = []

    def fake_run(command, cwd, **_):
        ran.append(Path(cwd).name)
        if Path(cwd).name == "rag-engine":
            return RunResult(1, "loading\nTraceback ...\nValueError: store is empty\n", 2.0)
        return RunResult(0, f'demo\n{{"figure": {len(ran)}}}\n', 3.0)

    monkeypatch.setattr(cli, "run_streaming", fake_run)
    monkeypatch.setattr(measured, "FILE", tmp_path / "measured.json")
    measured.save({"bpe-tokenizer": measured.Measured(demo_seconds=5)})
    code = cli.main(["tour", "--path", "app", "--out", str(tmp_path / "out"), "--record"])
    out = capsys.readouterr().out
    assert code == 1  # one demo failed, and the others still ran after it
    assert ran == ["bpe-tokenizer", "rag-engine", "paged-kv-server"]
    assert "3 demos, expected about 2.1 min (2 without a measurement" in out
    assert "not yet available, skipped: llm-explorer, prompt-lab, text-cluster" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rows = {r["project"]: r for r in report["chapters"]}
    assert [r["ok"] for r in report["chapters"]] == [True, False, True]
    assert rows["rag-engine"]["error"] == "ValueError: store is empty"
    assert rows["paged-kv-server"]["figures"] == {"figure": 3}
    page = (tmp_path / "out" / "report.html").read_text()
    assert (tmp_path / "out" / "report.html").stat().st_mode & 0o777 == 0o644
    assert page.count('<div class="card') == 3 and "ValueError: store is empty" in page
    assert 'href="../../projects/paged-kv-server/README.md"' in page
    recorded = measured.load(tmp_path / "measured.json")
    assert recorded["paged-kv-server"].demo_seconds == 3 and "rag-engine" not in recorded


def test_part_and_only_select_and_bad_part_is_one_line(tmp_path, monkeypatch, capsys):
    root = _fake_root(tmp_path, ["sae-probe", "medusa-decoder", "bpe-tokenizer"])
    monkeypatch.setenv("LLM_FULLSTACK_ROOT", str(root))
    ran = []
    monkeypatch.setattr(cli, "run_streaming",
                        lambda command, cwd, **_: ran.append(Path(cwd).name)
                        or RunResult(0, "{}\n", 1.0))
    monkeypatch.setattr(measured, "FILE", tmp_path / "none.json")
    assert cli.main(["tour", "--part", "7", "--out", str(tmp_path / "o")]) == 0
    assert ran == ["medusa-decoder", "sae-probe"]
    assert cli.main(["tour", "--part", "9"]) == 2
    assert capsys.readouterr().err.strip() == "error: there is no part 9; parts are 1 to 7"


def test_demo_without_a_json_line_fails_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_FULLSTACK_ROOT", str(_fake_root(tmp_path, ["bpe-tokenizer"])))
    monkeypatch.setattr(cli, "run_streaming", lambda *a, **k: RunResult(0, "no json\n", 1.0))
    assert cli.main(["tour", "--only", "bpe-tokenizer", "--out", str(tmp_path / "o")]) == 1
    row = json.loads((tmp_path / "o" / "report.json").read_text())["chapters"][0]
    assert row["error"] == "the demo's last line is not one JSON object"


@pytest.mark.parametrize("output,line", [
    ("a\nTraceback\n  File x\nKeyError: 'k'\n", "KeyError: 'k'"),
    ("error: --model is missing\n", "error: --model is missing"),
    ("progress 10%\nkilled after 600 s\n", "killed after 600 s"),
    ("", "(no output)"),
])
def test_last_error_line(output, line):
    assert last_error_line(output) == line


def test_measured_round_trip_and_expected_time(tmp_path):
    path = tmp_path / "m.json"
    measured.update({"a": {"demo_seconds": 10}, "b": {"fast_tests": 7}}, path)
    measured.update({"a": {"headline": "2x peer"}}, path)
    got = measured.load(path)
    assert got["a"] == measured.Measured(demo_seconds=10, headline="2x peer")
    assert measured.expected_seconds(["a", "b", "c"], got) == (130.0, 2)
    assert not list(tmp_path.glob(".measured.*"))  # temp files renamed, none left behind


def test_committed_catalog_covers_every_available_project():
    committed = measured.load(Path(measured.__file__).with_name("measured.json"))
    assert set(committed) <= {c.project for c in CHAPTERS}
    assert {c.project for c in available(REPO)} <= set(committed)
    assert all(entry.fast_tests for entry in committed.values())


def test_test_warns_over_the_fast_tier_budget_and_records(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLM_FULLSTACK_ROOT", str(_fake_root(tmp_path, ["bpe-tokenizer",
                                                                        "sae-probe"])))
    monkeypatch.setattr(measured, "FILE", tmp_path / "m.json")
    seconds = {"bpe-tokenizer": 30.0, "sae-probe": 150.0}
    monkeypatch.setattr(cli, "run_streaming", lambda command, cwd, **_: RunResult(
        0, "== 12 passed in 1.0s ==\n", seconds[Path(cwd).name]))
    assert cli.main(["test", "bpe-tokenizer", "sae-probe", "--record"]) == 0
    out = capsys.readouterr().out
    assert "warning: fast tier over 120 s on this machine: sae-probe" in out
    assert "total: 24 passed, 0 failed, 0 skipped" in out
    assert measured.load(tmp_path / "m.json")["sae-probe"].test_seconds == 150


def test_new_project_passes_the_repo_convention_tests(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # A scratch workspace whose README lists every chapter as planned, so only the scaffold counts.
    readme = re.sub(r"\| \*\*available\*\* \|$", "| planned |", readme, flags=re.M)
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    scaffold("llm-eval", tmp_path)
    assert "`llm-eval` | **available** |" in (tmp_path / "README.md").read_text()
    assert not mark_available("llm-eval", tmp_path / "README.md")  # already flipped
    env = {**os.environ, "LLM_FULLSTACK_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--import-mode=importlib", str(REPO / "tests" / "test_conventions.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert re.search(r"\b5 passed\b", done.stdout), done.stdout[-500:]
