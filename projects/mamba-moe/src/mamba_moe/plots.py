"""PNG figures: per-layer expert load histograms, accuracy vs length, generation memory vs length.

matplotlib with the Agg backend (no display); each function writes one PNG atomically and
returns its path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from llm_shared import atomic_write  # noqa: E402


def _save(fig, path: Path) -> Path:
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def expert_histograms(counts: list[list[int]], path: Path) -> Path:
    """counts[layer][expert] = assignments served -> one bar chart per layer, uniform line."""
    n = len(counts)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.6), squeeze=False)
    for layer, (ax, row) in enumerate(zip(axes[0], counts, strict=False)):
        ax.bar(range(len(row)), row, color="tab:blue")
        ax.axhline(sum(row) / len(row), color="tab:red", ls="--", lw=1, label="uniform")
        ax.set(title=f"layer {layer}", xlabel="expert", ylabel="tokens served")
        ax.set_xticks(range(len(row)))
    axes[0][0].legend(fontsize=7)
    fig.suptitle("expert load")
    return _save(fig, path)


def lines(series: dict[str, tuple[list[float], list[float]]], path: Path, *, xlabel: str,
          ylabel: str, title: str, logx: bool = True) -> Path:
    """One line per name: series[name] = (xs, ys)."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
