"""Pictures: the loss curve of a run and attention heatmaps (one PNG per layer, one panel per
head) for one input. Written with matplotlib's Agg backend (no display), atomically.

Run: `transformer-core attention --model runs/rev --input "3 9 1 4" --out runs/rev/attention`.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import torch  # noqa: E402
from llm_shared import atomic_write  # noqa: E402

from .decode import greedy  # noqa: E402
from .model import Transformer  # noqa: E402
from .tasks import BOS, VOCAB, Task, encode  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getvalue())


def plot_loss(curve: list[list[float]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 3))
    if curve:
        steps, losses = zip(*curve, strict=True)
        ax.plot(steps, losses)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss (mean of {curve[0][0] if curve else 0} steps)")
    ax.set_title(title)
    _save(fig, path)


@torch.no_grad()
def attention_maps(model: Transformer, task: Task, line: str) -> tuple[dict[str, torch.Tensor],
                                                                      list[str], list[str]]:
    """Decode `line` greedily, then run the full teacher-forced pass once more with weight
    capture on: {block name: (H, Tq, Tk)}, source tokens, decoder inputs (BOS + output)."""
    source = task.parse(line, model.config.max_len)
    src = torch.tensor([encode(source)])  # (1, S)
    output = greedy(model, src, max_new=model.config.max_len - 2)[0]
    tgt = torch.tensor([[BOS] + output])  # (1, T)
    blocks = model.attention_modules()
    for block in blocks.values():
        block.keep_weights = True
    try:
        model(src, tgt)
        maps = {name: block.last_weights[0] for name, block in blocks.items()}
    finally:
        for block in blocks.values():
            block.keep_weights, block.last_weights = False, None
    return maps, source, [VOCAB[i] for i in tgt[0].tolist()]


def plot_attention(maps: dict[str, torch.Tensor], source: list[str], target: list[str],
                   out: Path) -> list[Path]:
    """One PNG per attention block; rows are queries, columns keys."""
    written = []
    for name, weights in maps.items():
        heads = weights.shape[0]
        rows = source if name.startswith("encoder") else target
        cols = target if name.endswith(".self") and name.startswith("decoder") else source
        fig, axes = plt.subplots(1, heads, figsize=(2.2 * heads + 0.5, 2.4), squeeze=False)
        for h, ax in enumerate(axes[0]):
            ax.imshow(weights[h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(cols)), cols, fontsize=6, rotation=90)
            ax.set_yticks(range(len(rows)), rows, fontsize=6)
            ax.set_title(f"head {h}", fontsize=8)
        fig.suptitle(f"{name} attention (rows: queries, columns: keys)", fontsize=9)
        path = out / f"{name.replace('.', '_')}.png"
        _save(fig, path)
        written.append(path)
    return written
