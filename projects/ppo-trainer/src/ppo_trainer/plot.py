"""`plot DIR`: render OUTPUT/metrics.jsonl to OUTPUT/curves.png (reward, KL, entropy, clip, ...).

One panel per logged metric that the run has (value loss only for PPO); skipped steps are left out
of the lines. Leaves out smoothing and multi-run overlays. Run: `ppo-trainer plot runs/grpo`.
"""

from __future__ import annotations

import json
from pathlib import Path

from llm_shared import UserError, atomic_write

PANELS = (("reward_mean", "reward (mean ± std)"), ("kl", "KL to reference"),
          ("entropy", "entropy (nats/token)"), ("clip_frac", "clip fraction"),
          ("value_loss", "value loss"), ("response_length", "response length (tokens)"))


def read_metrics(directory: Path) -> list[dict]:
    path = Path(directory) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found; pass the --output DIR of a `ppo-trainer train` run")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "reward_mean" in r]
    if not rows:
        raise UserError(f"{path} has no completed steps to plot")
    return rows


def plot_run(directory: Path, output: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(directory)
    panels = [(key, title) for key, title in PANELS if any(key in r for r in rows)]
    cols = 3
    rows_n = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4 * cols, 3.2 * rows_n), squeeze=False)
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        steps = [r["step"] for r in rows if key in r]
        values = [r[key] for r in rows if key in r]
        ax.plot(steps, values, marker="o", markersize=3)
        if key == "reward_mean":
            std = [r.get("reward_std", 0.0) for r in rows]
            ax.fill_between(steps, [v - s for v, s in zip(values, std, strict=True)],
                            [v + s for v, s in zip(values, std, strict=True)], alpha=0.2)
            parts = sorted({k for r in rows for k in r if k.startswith("reward/")})
            for part in parts:  # each reward function's mean, unweighted
                ax.plot([r["step"] for r in rows if part in r],
                        [r[part] for r in rows if part in r], linewidth=1, alpha=0.8,
                        label=part.removeprefix("reward/").removesuffix("_reward"))
            if parts:
                ax.legend(fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    target = Path(output) if output else Path(directory) / "curves.png"
    with atomic_write(target, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return target
