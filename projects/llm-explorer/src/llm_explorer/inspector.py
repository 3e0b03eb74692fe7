"""The inspector: the next-token distribution, its entropy, and what each sampler stage cut.

`inspect_next(engine, ids, chain, top=10)` -> `StepView` with the raw softmax's top tokens
(id, token string, probability, logit), the entropy in nats, and per stage the ids it removed
and how many tokens were left. `walk(…, steps=N)` takes N greedy steps and returns one view each.
`render_table` prints a view for a terminal; `write_html` / `write_png` save a view of the
distribution. Leaves out attention maps and per-layer logit lenses.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import atomic_write

from .engine import Engine
from .samplers import SamplerChain, StageTrace, greedy_token


@dataclass
class StepView:
    position: int
    tokens: list[dict[str, Any]]  # [{id, token, prob, logit, kept}], prob descending
    entropy: float  # nats, of the raw next-token softmax
    stages: list[StageTrace]
    kept: int  # tokens left after the whole chain
    chosen: int  # the greedy choice (what `walk` appends)

    def as_json(self) -> dict[str, Any]:
        return {"tokens": [{k: t[k] for k in ("id", "token", "prob", "logit")}
                           for t in self.tokens],
                "entropy": self.entropy}


def token_string(tokenizer: Any, token_id: int) -> str:
    """The text a token adds, with whitespace made visible ("␣Paris", "\\n")."""
    text = tokenizer.decode([token_id])
    if "\ufffd" in text:  # a lone byte of a multi-byte character: show the raw token
        text = tokenizer.convert_ids_to_tokens(token_id)
    return text.replace(" ", "␣").replace("\n", "\\n").replace("\t", "\\t")


def view_from_logits(engine: Engine, logits: torch.Tensor, context: torch.Tensor,
                     chain: SamplerChain, top: int) -> StepView:
    logits = logits.float()  # (V,)
    logp = torch.log_softmax(logits, -1)  # (V,)
    probs = logp.exp()
    entropy = float(-(probs * logp).nansum())
    final, traces = chain.trace(logits, context)
    kept = torch.isfinite(final)
    values, ids = torch.topk(probs, min(top, probs.shape[-1]))
    rows = [{"id": int(i), "token": token_string(engine.tokenizer, int(i)), "prob": float(p),
             "logit": float(logits[i]), "kept": bool(kept[i])}
            for p, i in zip(values, ids, strict=True)]
    return StepView(position=int(context.shape[0]), tokens=rows, entropy=entropy, stages=traces,
                    kept=int(kept.sum()), chosen=greedy_token(logits))


def inspect_next(engine: Engine, ids: list[int], chain: SamplerChain, top: int = 10) -> StepView:
    engine.check_length(len(ids))
    logits = engine.forward(ids, None)
    return view_from_logits(engine, logits, torch.tensor(ids), chain, top)


def walk(engine: Engine, ids: list[int], chain: SamplerChain, steps: int,
         top: int = 10) -> list[StepView]:
    """N greedy steps with the KV cache; one view per step (stops early at EOS)."""
    engine.check_length(len(ids) + steps - 1)
    cache = engine.new_cache()
    logits = engine.forward(ids, cache)
    context, views = list(ids), []
    for _ in range(steps):
        view = view_from_logits(engine, logits, torch.tensor(context), chain, top)
        views.append(view)
        if view.chosen in engine.eos_ids:
            break
        context.append(view.chosen)
        logits = engine.forward([view.chosen], cache)
    return views


def render_table(view: StepView, chain: SamplerChain, tokenizer: Any) -> str:
    lines = [f"position {view.position}  entropy {view.entropy:.3f} nats "
             f"(perplexity {math.exp(view.entropy):.1f})  chain: {chain}",
             f"{'rank':>4} {'id':>6}  {'token':<16} {'prob':>8} {'logit':>8}  kept"]
    for rank, row in enumerate(view.tokens, 1):
        bar = "#" * max(1, round(row["prob"] * 30)) if row["prob"] >= 0.005 else ""
        lines.append(f"{rank:>4} {row['id']:>6}  {row['token'][:16]:<16} {row['prob']:>8.4f} "
                     f"{row['logit']:>8.3f}  {'yes' if row['kept'] else 'no ':<4}{bar}")
    for stage in view.stages:
        if not stage.active:
            continue
        shown = ", ".join(token_string(tokenizer, i) for i in stage.removed[:5])
        more = f" … (+{len(stage.removed) - 5})" if len(stage.removed) > 5 else ""
        lines.append(f"  {stage.name:<9} removed {len(stage.removed):>6}, left {stage.kept:>6}"
                     + (f"  e.g. {shown}{more}" if stage.removed and len(stage.removed) < 60
                        else ""))
    lines.append(f"  next (greedy): {token_string(tokenizer, view.chosen)!r}; "
                 f"{view.kept} token(s) remain for sampling")
    return "\n".join(lines)


def write_html(views: list[StepView], path: str | Path, title: str) -> None:
    """A self-contained HTML page: one bar list per step, removed tokens greyed out."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font:14px monospace} td{padding:1px 6px} .cut{opacity:.35}"
             " .bar{background:#4a7;height:12px;display:inline-block}</style>",
             f"<h2>{html.escape(title)}</h2>"]
    for view in views:
        parts.append(f"<h3>position {view.position}, entropy {view.entropy:.3f} nats</h3><table>")
        for row in view.tokens:
            width = round(row["prob"] * 400)
            parts.append(f"<tr class='{'' if row['kept'] else 'cut'}'><td>{row['id']}</td>"
                         f"<td>{html.escape(row['token'])}</td><td>{row['prob']:.4f}</td>"
                         f"<td><span class='bar' style='width:{width}px'></span></td></tr>")
        parts.append("</table>")
    with atomic_write(path) as handle:
        handle.write("\n".join(parts))


def write_png(view: StepView, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = view.tokens[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.2))
    ax.barh([r["token"] for r in rows], [r["prob"] for r in rows],
            color=["#4a7" if r["kept"] else "#bbb" for r in rows])
    ax.set_xlabel("probability (grey: removed by the sampler chain)")
    ax.set_title(f"{title[:60]}\nentropy {view.entropy:.2f} nats", fontsize=9)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
