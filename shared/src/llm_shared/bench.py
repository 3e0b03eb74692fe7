"""Benchmark helpers: time two callables alternately and report the median ratio.

Timings in this workspace are always ratios against a named peer measured in the same process,
alternating A, B, A, B … so that machine noise (the other core busy, CPU frequency) hits both.
`compare(ours, peer, names=("ours", "hf"))` -> Comparison with medians and `ratio` = peer / ours
(> 1 means ours is faster). Leaves out statistics beyond the median: repeats are few and noisy.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Comparison:
    names: tuple[str, str]
    seconds_a: list[float] = field(default_factory=list)
    seconds_b: list[float] = field(default_factory=list)

    @property
    def median_a(self) -> float:
        return statistics.median(self.seconds_a)

    @property
    def median_b(self) -> float:
        return statistics.median(self.seconds_b)

    @property
    def ratio(self) -> float:
        """median(B) / median(A): how many times faster A is than B."""
        return self.median_b / self.median_a

    def summary(self) -> dict[str, Any]:
        a, b = self.names
        return {f"{a}_s": round(self.median_a, 6), f"{b}_s": round(self.median_b, 6),
                f"{a}_vs_{b}": round(self.ratio, 3)}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), **self.summary()}


def compare(fn_a: Callable[[], Any], fn_b: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
            names: tuple[str, str] = ("ours", "peer")) -> Comparison:
    """Run warm-ups of both, then `repeats` alternating timed calls of each; return a Comparison."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn_a()
        fn_b()
    result = Comparison(names=names)
    for i in range(repeats):
        # Alternate which goes first so that neither always runs on a warmer cache.
        order = ((fn_a, result.seconds_a), (fn_b, result.seconds_b))
        for fn, sink in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts -> a Markdown table (floats to 4 significant digits), for READMEs and logs."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
