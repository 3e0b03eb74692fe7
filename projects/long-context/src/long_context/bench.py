"""Attention benchmark: tiled (ours) vs PyTorch SDPA vs the materialised-softmax path.

For each length T: the peak extra memory of each path (memory.py, a child process per length) and
the median time of tiled vs SDPA, alternating in the same process (`llm_shared.compare`), plus a
least-squares line through tiled's memory (MiB per 1k tokens) and a plot. The naive path is measured
only up to `naive_max` tokens: its (H, T, T) score matrix is 9 GiB at 16k. Shapes are one SmolLM2
layer (9 query heads, 3 kv heads, head_dim 64), causal, float32, batch 1.
Run: `OMP_NUM_THREADS=1 long-context bench --lengths 1024 2048 4096 8192 16384 32768 --json`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from llm_shared import compare, markdown_table, track

from .attention import sdpa_attention, tiled_attention
from .memory import peak_extra_mb

H, HKV, D = 9, 3, 64


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept): [1, 2, 3], [2, 4, 6] -> (2.0, 0.0)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return slope, my - slope * mx


def run_bench(
    lengths: list[int],
    *,
    block: int = 256,
    repeats: int = 3,
    time_max: int = 8192,
    naive_max: int = 4096,
    plot: Path | None = None,
) -> dict[str, Any]:
    rows = []
    for T in track(lengths, "lengths"):
        kinds = ["tiled", "sdpa"] + (["naive"] if naive_max >= T else [])
        peaks = peak_extra_mb(kinds, H=H, Hkv=HKV, T=T, D=D, block=block)
        qkvo = (2 * H + 2 * HKV) * T * D * 4 / 2**20
        row = {
            "T": T,
            "qkvo_mb": round(qkvo, 2),
            "tiled_mb": peaks["tiled"],
            "sdpa_mb": peaks["sdpa"],
            "naive_mb": peaks.get("naive"),  # None: not run (O(T^2) memory)
            "tiled_over_qkvo": round(peaks["tiled"] / qkvo, 3),
        }
        if time_max >= T:
            torch.manual_seed(0)
            q, k, v = torch.randn(1, H, T, D), torch.randn(1, HKV, T, D), torch.randn(1, HKV, T, D)
            result = compare(
                lambda q=q, k=k, v=v: tiled_attention(
                    q, k, v, causal=True, block_q=block, block_k=block
                ),
                lambda q=q, k=k, v=v: sdpa_attention(q, k, v, causal=True),
                repeats=repeats,
                names=("tiled", "sdpa"),
            )
            row.update(
                tiled_s=round(result.median_a, 4),
                sdpa_s=round(result.median_b, 4),
                tiled_over_sdpa_time=round(result.median_a / result.median_b, 2),
            )
        rows.append(row)
        print(row, file=sys.stderr, flush=True)  # partial results survive a timeout
    slope, intercept = linear_fit([r["T"] / 1024 for r in rows], [r["tiled_mb"] for r in rows])
    if plot is not None:
        _plot(rows, plot)
    return {
        "rows": rows,
        "table": markdown_table(rows),
        "tiled_mb_per_1k_tokens": round(slope, 3),
        "tiled_mb_intercept": round(intercept, 3),
        "block": block,
        "torch_threads": torch.get_num_threads(),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from llm_shared import atomic_write

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (
        ("tiled_mb", "tiled (ours)"),
        ("sdpa_mb", "PyTorch SDPA"),
        ("naive_mb", "materialised softmax"),
        ("qkvo_mb", "q, k, v, out"),
    ):
        points = [(r["T"], r[key]) for r in rows if r[key] is not None]
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("peak extra memory (MiB)")
    ax.set_title("causal attention, 9/3 heads, d=64, float32, CPU", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
