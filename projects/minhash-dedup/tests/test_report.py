"""The run report keeps fixed-bin histograms: worked counts, and memory that does not grow."""

import numpy as np
from minhash_dedup.config import PipelineConfig
from minhash_dedup.dedup import IndexParams
from minhash_dedup.filters import Outcome
from minhash_dedup.report import BINS, ReportBuilder


def _builder():
    config = PipelineConfig()
    return ReportBuilder(config, IndexParams.from_config(config), ["x.jsonl"])


def test_histogram_bins_worked_example():
    report = _builder()
    # fractions on [0, 1] in 40 bins: 0.0 -> bin 0, 0.5 -> 20, 1.0 and 3.0 (outlier) -> 39;
    # counts on log10(1 + x) over [0, 6]: 9 -> 1.0 -> bin 6 (40 bins of 0.15 each).
    for ratio, words in [(0.0, 9), (0.5, 9), (1.0, 0), (3.0, 0)]:
        report.outcome(Outcome(True, "", metrics={"alpha_words_ratio": ratio, "n_words": words},
                               toxicity=ratio / 4))
    alpha = report.metrics["alpha_words_ratio"]
    assert {i: int(c) for i, c in enumerate(alpha.counts) if c} == {0: 1, 20: 1, 39: 2}
    words = report.metrics["n_words"]
    assert {i: int(c) for i, c in enumerate(words.counts) if c} == {0: 2, 6: 2}
    assert {i: int(c) for i, c in enumerate(report.toxicity.counts) if c} == \
        {0: 1, 5: 1, 10: 1, 30: 1}


def test_report_state_does_not_grow_with_documents(tmp_path):
    report = _builder()
    rng = np.random.default_rng(0)

    def feed(n):
        for _ in range(n):
            report.outcome(Outcome(True, "", metrics={"alpha_words_ratio": float(rng.random()),
                                                      "n_words": float(rng.integers(1, 999))},
                                   toxicity=float(rng.random())))

    def state():
        return sorted((name, h.counts.shape, h.n) for name, h in report.metrics.items())

    feed(10)
    before = [(name, shape) for name, shape, _ in state()]
    feed(5000)
    assert [(name, shape) for name, shape, _ in state()] == before == [
        ("alpha_words_ratio", (BINS,)), ("n_words", (BINS,))]
    assert all(n == 5010 for _, _, n in state()) and report.toxicity.n == 5010
    out = report.finish(tmp_path)  # plots render from the bins
    assert out["plots"] == ["quality_histograms.png", "toxicity_histogram.png"]
