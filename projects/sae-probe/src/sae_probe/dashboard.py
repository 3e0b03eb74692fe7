"""Look inside an SAE: per latent its top-activating contexts, histogram and logit-lens tokens.

For each chosen latent: the `top` store rows where it fires hardest, shown as the preceding
`window` tokens with the activating token highlighted; a histogram of its non-zero activations;
its firing frequency; and the tokens its decoder direction promotes and suppresses when read
through the model's final norm and unembedding (logit lens: W_U (g * w_dec)). `write_dashboard`
renders one static HTML page (no JavaScript, no server) plus `latents.json`.
Leaves out automated interpretation (explanations by an LLM) and feature-to-feature circuits.
Run: `uv run sae-probe inspect --sae runs/sae --acts runs/acts --out runs/dashboard`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from llm_shared import UserError, atomic_dir, write_json

from .sae import SparseAutoencoder
from .store import ActivationStore


@dataclass
class LatentReport:
    latent: int
    frequency: float
    max_act: float
    contexts: list[dict] = field(default_factory=list)  # {"tokens", "act", "token"}
    histogram: dict = field(default_factory=dict)  # {"counts", "edges"}
    promoted: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)

    @property
    def purity(self) -> float:
        """Share of top contexts whose activating token is the most common one (1.0 = one token)."""
        if not self.contexts:
            return 0.0
        tokens = [c["token"] for c in self.contexts]
        return max(tokens.count(t) for t in set(tokens)) / len(tokens)


@torch.no_grad()
def scan(sae: SparseAutoencoder, store: ActivationStore, rows: np.ndarray, top: int,
         batch: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Firing counts (m,), top values (m, top), top rows (m, top), and every non-zero activation
    as (latent ids, values) for the histograms."""
    m = sae.cfg.d_sae
    counts = np.zeros(m, dtype=np.int64)
    best_val = torch.full((m, top), -1.0)
    best_row = torch.full((m, top), -1, dtype=torch.long)
    nz_latents: list[np.ndarray] = []
    nz_values: list[np.ndarray] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        f = sae.encode(torch.from_numpy(store.gather(chunk)))  # (b, m)
        counts += (f > 0).sum(0).numpy()
        vals = torch.cat([best_val, f.t()], dim=1)  # (m, top + b)
        idx = torch.cat([best_row, torch.from_numpy(chunk).expand(m, -1)], dim=1)
        best_val, order = vals.topk(top, dim=1)
        best_row = idx.gather(1, order)
        nz_tok, nz_lat = torch.nonzero(f > 0, as_tuple=True)
        nz_latents.append(nz_lat.numpy())
        nz_values.append(f[nz_tok, nz_lat].numpy())
    acts = (np.concatenate(nz_latents), np.concatenate(nz_values))
    return counts, best_val.numpy(), best_row.numpy(), acts


def logit_lens(model, direction: torch.Tensor, tokenizer, n: int = 8) -> tuple[list, list]:
    """Tokens whose logits a unit of `direction` (d,) raises most and lowers most."""
    head = model.get_output_embeddings().weight.detach().float().cpu()  # (V, d)
    norm = getattr(getattr(model, "model", model), "norm", None)
    gain = norm.weight.detach().float().cpu() if norm is not None and hasattr(norm, "weight") \
        else torch.ones(head.shape[1])
    logits = head @ (gain * direction.float())  # (V,)
    up = [tokenizer.decode([int(i)]) for i in logits.topk(n).indices]
    down = [tokenizer.decode([int(i)]) for i in (-logits).topk(n).indices]
    return up, down


def token_purity(store: ActivationStore, rows: np.ndarray) -> float:
    """Share of `rows` whose token is the most common one among them: [5, 5, 7] -> 0.667."""
    rows = rows[rows >= 0]
    if len(rows) == 0:
        return 0.0
    _, counts = np.unique(store.tokens[rows], return_counts=True)
    return float(counts.max() / len(rows))


def most_interpretable(store: ActivationStore, freq: np.ndarray, best_val: np.ndarray,
                       best_row: np.ndarray, tokenizer) -> int:
    """The live latent (firing on 0.1%..5% of tokens, all top slots filled) whose top contexts
    share one activating token most often, preferring visible tokens over whitespace; ties go
    to the larger maximum activation."""
    full = (best_val > 0).all(1)
    candidates = [i for i in np.flatnonzero(full & (freq > 1e-3) & (freq < 0.05))] or \
        [int(np.argmax(freq))]
    def text_token(i: int) -> bool:  # whitespace-only tokens make dull examples
        top_token = np.bincount(store.tokens[best_row[i]]).argmax()
        return bool(tokenizer.decode([int(top_token)]).strip())

    return int(max(candidates, key=lambda i: (text_token(i), token_purity(store, best_row[i]),
                                              best_val[i, 0])))


def build_reports(sae: SparseAutoencoder, store: ActivationStore, tokenizer, model,
                  latents: list[int] | None, n_latents: int, top: int, window: int,
                  max_rows: int, pick_interpretable: bool = False) -> list[LatentReport]:
    rows = store.positions()[:max_rows]
    counts, best_val, best_row, acts = scan(sae, store, rows, top)
    freq = counts / len(rows)
    if pick_interpretable:
        latents = [most_interpretable(store, freq, best_val, best_row, tokenizer)]
    if not latents:
        # Live, not dense latents spread evenly over the frequency range: a fair sample.
        live = [int(i) for i in np.argsort(-freq) if 0 < freq[i] < 0.1]
        step = max(1, len(live) // max(1, n_latents))
        latents = live[::step][:n_latents]
    row_window = store.row_window()
    reports = []
    for lat in latents:
        if not 0 <= lat < sae.cfg.d_sae:
            raise UserError(f"latent {lat} is outside the dictionary (0..{sae.cfg.d_sae - 1})")
        report = LatentReport(latent=lat, frequency=float(freq[lat]),
                              max_act=float(max(best_val[lat].max(), 0.0)))
        for val, row in zip(best_val[lat], best_row[lat], strict=True):
            if row < 0 or val <= 0:
                continue
            w = store.windows[row_window[row]]
            start = store.shard_starts[w.shard] + w.start
            lo = max(start + 1, row - window)  # skip the BOS token
            ids = store.tokens[lo:min(start + w.length, row + 4)]
            pieces = [tokenizer.decode([int(t)]) for t in ids]
            report.contexts.append({"tokens": pieces, "at": int(row - lo), "act": float(val),
                                    "token": pieces[row - lo]})
        values = acts[1][acts[0] == lat]
        if len(values):
            counts_h, edges = np.histogram(values, bins=20)
            report.histogram = {"counts": counts_h.tolist(), "edges": edges.tolist()}
        report.promoted, report.suppressed = logit_lens(model, sae.W_dec[lat].detach(), tokenizer)
        reports.append(report)
    return reports


def context_text(context: dict) -> str:
    """Plain-text context with the activating token in [[ ]] (for terminals)."""
    pieces = list(context["tokens"])
    pieces[context["at"]] = f"[[{pieces[context['at']]}]]"
    return "".join(pieces).replace("\n", "\\n")


def _svg_histogram(hist: dict, width: int = 240, height: int = 60) -> str:
    if not hist:
        return "<em>never fired</em>"
    counts = hist["counts"]
    top = max(counts) or 1
    bar = width / len(counts)
    rects = "".join(f'<rect x="{i * bar:.1f}" y="{height - c / top * height:.1f}" '
                    f'width="{bar - 1:.1f}" height="{c / top * height:.1f}" fill="#4a7"/>'
                    for i, c in enumerate(counts))
    lo, hi = hist["edges"][0], hist["edges"][-1]
    return (f'<svg width="{width}" height="{height + 14}">{rects}<text x="0" y="{height + 12}" '
            f'font-size="10">{lo:.2f}</text><text x="{width - 30}" y="{height + 12}" '
            f'font-size="10">{hi:.2f}</text></svg>')


def _context_html(context: dict, max_act: float) -> str:
    cells = []
    for i, piece in enumerate(context["tokens"]):
        text = html.escape(piece).replace("\n", "↵")
        if i == context["at"]:
            alpha = min(1.0, context["act"] / max(max_act, 1e-9))
            cells.append(f'<mark style="background:rgba(255,140,0,{alpha:.2f})" '
                         f'title="{context["act"]:.3f}">{text}</mark>')
        else:
            cells.append(text)
    return f'<code>{"".join(cells)}</code> <small>{context["act"]:.2f}</small>'


def render_html(reports: list[LatentReport], meta: dict) -> str:
    head = (f"<h1>SAE dashboard</h1><p>model <b>{html.escape(meta['model'])}</b>, hook "
            f"<b>{meta['hook']}</b>, {meta['arch']} SAE with {meta['d_sae']} latents; "
            f"{meta['rows']} store rows scanned.</p>")
    index = "".join(f'<tr><td><a href="#l{r.latent}">{r.latent}</a></td><td>{r.frequency:.4f}</td>'
                    f"<td>{r.max_act:.2f}</td><td>{r.purity:.2f}</td>"
                    f"<td>{html.escape(' '.join(map(repr, r.promoted[:5])))}</td></tr>"
                    for r in reports)
    table = ("<table><tr><th>latent</th><th>freq</th><th>max</th><th>token purity</th>"
             f"<th>promotes</th></tr>{index}</table>")
    sections = []
    for r in reports:
        contexts = "".join(f"<li>{_context_html(c, r.max_act)}</li>" for c in r.contexts)
        sections.append(
            f'<section id="l{r.latent}"><h2>latent {r.latent}</h2>'
            f"<p>fires on {r.frequency:.4%} of tokens, max activation {r.max_act:.3f}</p>"
            f"{_svg_histogram(r.histogram)}"
            f"<p>promotes: {html.escape(', '.join(map(repr, r.promoted)))}<br>"
            f"suppresses: {html.escape(', '.join(map(repr, r.suppressed)))}</p>"
            f"<ol>{contexts}</ol></section>")
    style = ("body{font-family:sans-serif;max-width:980px;margin:auto}code{white-space:pre-wrap;"
             "background:#f6f6f6}section{border-top:1px solid #ccc;margin-top:1em}"
             "td,th{padding:2px 8px;text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>SAE dashboard</title>"
            f"<style>{style}</style></head><body>{head}{table}{''.join(sections)}</body></html>")


_DASHBOARD = {"index.html", "latents.json"}


def check_dashboard_out(out: Path) -> None:
    """UserError unless `out` is new or holds only an earlier dashboard (it is replaced whole)."""
    if out.exists() and (not out.is_dir() or {p.name for p in out.iterdir()} - _DASHBOARD):
        raise UserError(f"--out {out} exists and is not a dashboard folder (it would be "
                        "replaced as a whole); pick a new --out")


def write_dashboard(out: Path, reports: list[LatentReport], meta: dict) -> Path:
    """index.html + latents.json in `out`, built in a temp folder and moved into place.
    The move replaces `out` as a whole, so only an earlier dashboard may be there."""
    check_dashboard_out(out)
    with atomic_dir(out) as tmp:
        (tmp / "index.html").write_text(render_html(reports, meta), encoding="utf-8")
        write_json(tmp / "latents.json", {"meta": meta, "latents": [
            {**vars(r), "purity": r.purity} for r in reports]})
    return out / "index.html"
