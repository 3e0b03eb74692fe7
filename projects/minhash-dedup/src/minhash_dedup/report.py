"""The run report: counts per stage, reasons, PII counts, largest clusters with examples, plots.

`ReportBuilder` is fed by the pipeline while it writes the outputs and, at the end, writes
`report.json` (machine-readable, the `counts` block is what scripts read), `report.md` (for a
person) and `quality_histograms.png` / `toxicity_histogram.png` (matplotlib, Agg backend), each
histogram with its threshold drawn in. The statistics are kept as fixed-bin histograms (40 bins
over a fixed range per metric, values outside it counted in the end bins), so the report's memory
does not grow with the corpus. Leaves out interactive dashboards.
Exercised by `minhash-dedup run corpus --output out/` (then open out/report.md).
"""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

import numpy as np
from llm_shared import markdown_table, write_json

from .config import PipelineConfig
from .dedup import DedupResult, IndexParams
from .filters import Outcome
from .readers import Malformed

COUNT_METRICS = ("n_words", "stop_words", "c4_sentences")
STAGE_ORDER = ("malformed", "exact", "near", "quality", "toxicity")
_NUMBER = re.compile(r"\s-?\d[\d.]*(?:e[-+]?\d+)?")
# Fixed histogram ranges: counts on a log10(1 + x) axis (0..1e6), word length in characters,
# everything else a fraction.
BINS = 40
RANGES = {name: (0.0, 6.0) for name in COUNT_METRICS} | {"mean_word_length": (0.0, 20.0)}


class Histogram:
    """Counts of values in `BINS` equal bins over [lo, hi]; outliers land in the end bins."""

    def __init__(self, lo: float, hi: float, log: bool = False) -> None:
        self.edges = np.linspace(lo, hi, BINS + 1)
        self.counts = np.zeros(BINS, dtype=np.int64)
        self.log = log

    def add(self, value: float) -> None:
        x = np.log10(1.0 + max(value, 0.0)) if self.log else value
        lo, hi = self.edges[0], self.edges[-1]
        i = int((x - lo) / (hi - lo) * BINS) if hi > lo else 0
        self.counts[min(max(i, 0), BINS - 1)] += 1

    @property
    def n(self) -> int:
        return int(self.counts.sum())


def _histogram(name: str) -> Histogram:
    lo, hi = RANGES.get(name, (0.0, 1.0))
    return Histogram(lo, hi, log=name in COUNT_METRICS)


class ReportBuilder:
    def __init__(self, config: PipelineConfig, params: IndexParams, inputs: list[str]) -> None:
        self.config, self.params, self.inputs = config, params, inputs
        self.counts: collections.Counter[str] = collections.Counter()
        self.reasons: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.pii: collections.Counter[str] = collections.Counter()
        self.metrics: dict[str, Histogram] = {}
        self.toxicity = Histogram(0.0, 1.0)
        self.examples: dict[int, str] = {}
        self.malformed_examples: list[dict[str, str]] = []
        self.clusters: list[dict[str, Any]] = []
        self.dedup_stats: dict[str, Any] = {}

    def dedup(self, result: DedupResult) -> None:
        for removal in result.removed.values():
            self.counts[removal.stage] += 1
        self.clusters, self.dedup_stats = result.clusters, result.stats

    def malformed(self, item: Malformed) -> None:
        self.counts["malformed"] += 1
        self.reasons["malformed"][item.reason] += 1
        if len(self.malformed_examples) < 5:
            self.malformed_examples.append({"id": item.id, "reason": item.reason})

    def example(self, position: int, text: str) -> None:
        self.examples[position] = " ".join(text.split())[:160]

    def outcome(self, out: Outcome) -> None:
        for name, value in out.metrics.items():
            if name not in self.metrics:
                self.metrics[name] = _histogram(name)
            self.metrics[name].add(value)
        self.pii.update({k: v for k, v in out.pii.items() if v})
        if out.toxicity is not None:
            self.toxicity.add(out.toxicity)
        if out.kept:
            self.counts["kept"] += 1
        else:
            self.counts[out.stage] += 1
            self.reasons[out.stage][_NUMBER.sub("", out.reason.split(", flagged")[0])] += 1

    def _thresholds(self) -> dict[str, list[float]]:
        c = self.config
        out = {"n_words": [c.min_words], "mean_word_length": [c.min_mean_word_length,
                                                              c.max_mean_word_length],
               "symbol_word_ratio": [c.max_symbol_word_ratio],
               "bullet_lines_ratio": [c.max_bullet_lines_ratio],
               "ellipsis_lines_ratio": [c.max_ellipsis_lines_ratio],
               "alpha_words_ratio": [c.min_alpha_words_ratio], "stop_words": [c.min_stop_words],
               "c4_sentences": [c.c4_min_sentences], "dup_line_frac": [c.max_dup_line_frac],
               "dup_para_frac": [c.max_dup_para_frac],
               "dup_line_char_frac": [c.max_dup_line_char_frac],
               "dup_para_char_frac": [c.max_dup_para_char_frac]}
        for n, limit in zip((2, 3, 4), c.max_top_ngram_frac, strict=True):
            out[f"top_{n}gram_frac"] = [limit]
        for n, limit in zip(range(5, 11), c.max_dup_ngram_frac, strict=True):
            out[f"dup_{n}gram_frac"] = [limit]
        return out

    def _plots(self, folder: Path) -> list[str]:
        if not self.config.plots or not (self.metrics or self.toxicity.n):
            return []
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        written = []
        limits = self._thresholds()
        names = [n for n in limits if n in self.metrics]
        if names:
            cols = 4
            rows = (len(names) + cols - 1) // cols
            fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
            for ax, name in zip(axes.flat, names, strict=False):
                hist, lines = self.metrics[name], limits[name]
                if hist.log:  # counts span 0..1e5: a log axis shows their bulk
                    lines = [np.log10(1 + x) for x in lines]
                    name = f"log10(1 + {name})"
                ax.stairs(hist.counts, hist.edges, fill=True, color="#4c72b0")
                for limit in lines:
                    ax.axvline(limit, color="#c44e52", linestyle="--")
                ax.set_title(f"{name} (n={hist.n})", fontsize=9)
            for ax in list(axes.flat)[len(names):]:
                ax.axis("off")
            fig.suptitle("Quality statistics (red: thresholds)")
            fig.tight_layout()
            fig.savefig(folder / "quality_histograms.png", dpi=80)
            plt.close(fig)
            written.append("quality_histograms.png")
        if self.toxicity.n:
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.stairs(self.toxicity.counts, self.toxicity.edges, fill=True, color="#55a868")
            ax.axvline(self.config.toxicity_threshold, color="#c44e52", linestyle="--")
            ax.set_title(f"toxicity scores ({self.config.toxicity_scorer})")
            fig.tight_layout()
            fig.savefig(folder / "toxicity_histogram.png", dpi=80)
            plt.close(fig)
            written.append("toxicity_histogram.png")
        return written

    def finish(self, folder: Path, **run: Any) -> dict[str, Any]:
        counts = {"input": sum(self.counts.values()), "malformed": self.counts["malformed"]}
        counts |= {s: self.counts[s] for s in STAGE_ORDER[1:]} | {"kept": self.counts["kept"]}
        for cluster in self.clusters:
            cluster["examples"] = [self.examples.get(p, "") for p in cluster.pop("positions")]
        report = {
            "inputs": self.inputs, "stages": self.config.stages, "counts": counts,
            "reasons": {k: dict(v.most_common()) for k, v in self.reasons.items()},
            "pii_redacted": dict(self.pii.most_common()),
            "minhash": {"num_perm": self.params.num_perm, "bands": self.params.bands,
                        "rows": self.params.rows, "threshold": self.params.threshold,
                        "shingle": f"{self.params.ngram}-{self.params.unit}",
                        "verify": self.params.verify, **self.dedup_stats},
            "largest_clusters": self.clusters, "malformed_examples": self.malformed_examples,
            "run": {k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()},
        }
        report["plots"] = self._plots(folder)
        write_json(folder / "report.json", report)
        (folder / "report.md").write_text(render_markdown(report), encoding="utf-8")
        return report


def render_markdown(report: dict[str, Any]) -> str:
    m = report["minhash"]
    lines = ["# Dedup report", "", f"Inputs: {', '.join(report['inputs'])}  ",
             f"Stages: {' -> '.join(report['stages'])}  ",
             f"MinHash: {m['num_perm']} permutations, {m['bands']} bands x {m['rows']} rows, "
             f"{m['shingle']} shingles, threshold {m['threshold']}", "", "## Counts per stage",
             "", markdown_table([{"stage": k, "documents": v}
                                 for k, v in report["counts"].items()]), ""]
    for stage, reasons in report["reasons"].items():
        lines += [f"## Why `{stage}` removed documents", "",
                  markdown_table([{"reason": r, "documents": n} for r, n in reasons.items()]), ""]
    if report["pii_redacted"]:
        lines += ["## PII redacted (in kept documents)", "",
                  markdown_table([{"kind": k, "matches": v}
                                  for k, v in report["pii_redacted"].items()]), ""]
    if report["largest_clusters"]:
        lines += ["## Largest near-duplicate clusters", ""]
        for c in report["largest_clusters"]:
            lines.append(f"- **{c['cluster']}** ({c['size']} documents): kept `{c['kept']}`, "
                         f"removed {', '.join(f'`{r}`' for r in c['removed'])}"
                         + (" ..." if c["size"] - 1 > len(c["removed"]) else ""))
            lines += [f"  - > {e}" for e in c["examples"] if e]
        lines.append("")
    if report["malformed_examples"]:
        lines += ["## Malformed input lines (first 5)", ""]
        lines += [f"- `{e['id']}`: {e['reason']}" for e in report["malformed_examples"]] + [""]
    lines += [f"![{p}]({p})" for p in report["plots"]]
    return "\n".join(lines) + "\n"
