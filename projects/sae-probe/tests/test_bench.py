"""The bench's time-to-equal-FVU arithmetic, and a tiny end-to-end run against SAELens."""

import pytest
from sae_probe.bench import BenchConfig, run_bench, time_to_fvu


def test_time_to_fvu_worked_example():
    points = [(10, 1.5, 0.9), (20, 3.0, 0.4), (30, 4.5, 0.25), (40, 6.0, 0.2)]
    assert time_to_fvu(points, 0.4, batch_size=100) == (2000, 3.0)  # first point at or below
    assert time_to_fvu(points, 0.3, batch_size=100) == (3000, 4.5)
    assert time_to_fvu(points, 0.1, batch_size=100) == (None, None)  # never reached


def test_tiny_bench_reports_both_sides_at_equal_fvu(tiny_store, tmp_path):
    pytest.importorskip("sae_lens")
    result = run_bench(BenchConfig(acts=tiny_store, out=tmp_path, d_sae=32, k=4, tokens=256 * 8,
                                   batch_size=256, warmup_steps=2, eval_every=2, trace_rows=256,
                                   repeats=1, loss_windows=2))
    summary, curve = result["summary"], result["curve"]
    assert [row["steps"] for row in curve] == [2, 4, 6, 8]
    # the target is the worse final FVU, so both sides reach it, the worse one at its last step
    finals = {name: curve[-1][f"{name}_fvu"] for name in ("ours", "saelens")}
    assert summary["target_fvu"] == pytest.approx(max(finals.values()), abs=1e-4)
    worse = max(finals, key=finals.get)
    assert summary[f"tokens_to_target_{worse}"] == 256 * 8
    assert summary["tokens_to_target_ours"] and summary["tokens_to_target_saelens"]
    assert {row["impl"] for row in result["rows"]} == {"ours", "saelens"}
