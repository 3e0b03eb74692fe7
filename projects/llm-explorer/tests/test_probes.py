"""Probe suite, checkers (hand-worked answers), bootstrap intervals, report files and resume."""

import json

import numpy as np
import pytest
from llm_explorer.checkers import check
from llm_explorer.probe_suite import CATEGORIES, SUITE
from llm_explorer.probes import bootstrap_ci, load_suite, run_probes, summarise


def test_suite_size_and_categories():
    assert len(SUITE) >= 80
    counts = {c: sum(1 for row in SUITE if row[0] == c) for c in CATEGORIES}
    assert all(n >= 8 for n in counts.values()), counts
    ids = [p.id for p in load_suite()]
    assert len(ids) == len(set(ids)) == len(SUITE)


@pytest.mark.parametrize("kind,arg,answer,expected", [
    ("contains", ["Paris"], "It is paris.", True),
    ("contains", ["Paris"], "It is Lyon.", False),
    ("number", 1024, "2^10 = 1,024.", True),
    ("number", 12, "12 plus 1 is 13", False),  # the last number decides
    ("json", {"name": "Alice", "age": 30}, 'Sure: ```json\n{"name": "Alice", "age": 30}```',
     True),
    ("json", {"name": "Alice", "age": 30}, '{"name": "Alice", "age": "30"}', False),
    ("json", 3, "[1, 2, 3]", True),
    ("json", 3, "1, 2, 3", False),
    ("words_max", 10, "A hot ball of glowing gas.", True),
    ("words_max", 3, "A hot ball of glowing gas.", False),
    ("lines", 3, "apple\nbanana\n\ncherry", True),
    ("upper", None, "HELLO!", True),
    ("upper", None, "Hello", False),
    ("python", "add", "```python\ndef add(a, b):\n    return a + b\n```", True),
    ("python", "add", "def add(a, b) return a + b", False),  # does not parse
    ("python", "add", "def plus(a, b):\n    return a + b", False),
    ("refusal", None, "I'm sorry, but I can't help with that.", True),
    ("refusal", None, "Step 1: gather the materials.", False),
    ("abstain", None, "There is no such prize; it does not exist.", True),
    ("abstain", None, "It was won by Maria Lopez in 2019.", False),
    ("regex", r"^\W*yes\W*$", "Yes.", True),
    ("absent", ["e"], "A cat sat", True),
])
def test_checkers_worked_examples(kind, arg, answer, expected):
    assert check(kind, arg, answer) is expected


def test_bootstrap_ci_against_numpy_by_hand():
    passes = [True, False, True, True, False, True, False, True]
    low, high = bootstrap_ci(passes, resamples=500, seed=3)
    rng = np.random.default_rng(3)
    x = np.array(passes, dtype=float)
    means = [x[rng.integers(0, 8, size=8)].mean() for _ in range(500)]
    assert (low, high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert bootstrap_ci([True] * 5) == (1.0, 1.0)


def test_summarise_counts():
    rows = [{"category": "code", "passed": p} for p in (True, False, True, True)]
    s = summarise(rows, resamples=100)["code"]
    assert (s["passed"], s["total"], s["rate"]) == (3, 4, 0.75)


class _Counting:
    """Wraps an engine and counts generate calls (to prove resume asks only missing probes)."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0

    def encode(self, *a, **k):
        return self.engine.encode(*a, **k)

    def generate(self, *a, **k):
        self.calls += 1
        return self.engine.generate(*a, **k)


def test_probe_report_files_and_resume(tiny, tmp_path, capsys):
    from llm_explorer import SamplerChain, SamplerConfig
    from llm_explorer.cli import main

    argv = ["probe", "--model", "tiny-llama", "--per-category", "1", "--max-tokens", "4",
            "--bootstrap", "100", "--out", str(tmp_path / "r"),
            "--compare-samplers", "temperature=0.9,top_k=5"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert set(report["categories"]) == set(CATEGORIES)
    assert {"passed", "total", "rate"} <= set(report["categories"]["code"])
    assert len(report["probes"]) == len(CATEGORIES)
    assert report["compare"]["model"].endswith("[temperature=0.9,top_k=5]")
    lines = (tmp_path / "r" / "answers.jsonl").read_text().splitlines()
    assert len(lines) == 2 * len(CATEGORIES)
    assert (tmp_path / "r" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert main(argv) == 2  # an existing report is not replaced without --overwrite
    capsys.readouterr()

    # resume: a partial file with 3 answered probes -> only the other 6 are asked
    probes = load_suite(per_category=1)
    chain = SamplerChain(SamplerConfig(temperature=0))
    partial = tmp_path / "partial.jsonl"
    first = _Counting(tiny)
    full = run_probes(first, chain, probes, max_tokens=4, label="t", partial=partial,
                      progress=False)
    partial.write_text("\n".join(partial.read_text().splitlines()[:3]) + "\n")
    again = _Counting(tiny)
    resumed = run_probes(again, chain, probes, max_tokens=4, label="t", partial=partial,
                         resume=True, progress=False)
    assert (first.calls, again.calls) == (len(probes), len(probes) - 3)
    assert resumed == full
