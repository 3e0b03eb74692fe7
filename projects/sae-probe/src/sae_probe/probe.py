"""Linear probes: can a logistic regression read a label off the activations, layer by layer?

Labels the project computes itself, per token:
- `code`: the token comes from a Python source file (corpus kind `sources`) rather than from prose
  (`topics` and `docstrings`, the language reference and docstrings);
- `digit`: the token's text contains a decimal digit.
For each layer the chosen site's activations are collected in one forward pass (hooks on every
layer), split by document (70% of documents train, 30% test, so a probe cannot memorise a
document), balanced per class by subsampling (chance = 0.5), standardised, and fitted with
scikit-learn's LogisticRegression. Held-out accuracy per layer goes to probe.json and a PNG plot;
each probe's direction, mapped back to raw activation units, goes to probes.safetensors (+ its
probes.json) for `steer`.
Leaves out non-linear probes and control tasks (selectivity).
Run: `uv run sae-probe probe --label code --out runs/probe`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from pathlib import Path

import numpy as np
import torch
from llm_shared import (
    UserError,
    atomic_write,
    iter_corpus,
    load_causal_lm,
    pick_device,
    progress_bar,
    seed_everything,
    write_json,
)

from .artifacts import save_probes
from .capture import bos_id, interleave
from .config import ProbeConfig
from .hooks import capture_hook, decoder_layers, run_until_hook

TRAIN_FRAC = 0.7


def _documents(config: ProbeConfig) -> list[tuple[str, int | None]]:
    """(text, doc label or None) pairs: equal numbers of code and prose documents for `code`."""
    if config.label == "code":
        # Start source files at their first statement: a module docstring or licence header is
        # prose, and would be mislabelled as code.
        code = [_from_first_statement(d.text) for d in iter_corpus(["sources"], limit=config.docs)]
        prose_docs = itertools.islice(interleave(["topics", "docstrings"]), config.docs)
        prose = [d.text for d in prose_docs]
        return [(t, 1) for t in code] + [(t, 0) for t in prose]
    mixed = interleave(["topics", "docstrings", "sources"])
    return [(d.text, None) for d in itertools.islice(mixed, 2 * config.docs)]


_STATEMENT = re.compile(r"^(import |from |def |class |@|if |[A-Za-z_][A-Za-z0-9_]* = )", re.M)


def _from_first_statement(source: str) -> str:
    """'\"\"\"Doc.\"\"\"\nimport os\n' -> 'import os\n' (the whole text if none found)."""
    match = _STATEMENT.search(source)
    return source[match.start():] if match else source


def _balanced(labels: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    per_class = min(cap, *(int((labels == c).sum()) for c in (0, 1)))
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                           for c in (0, 1)])


@torch.no_grad()
def collect(model, tokenizer, config: ProbeConfig):
    """Per layer (N, d) activations, token labels (N,) and document ids (N,)."""
    n_layers = len(decoder_layers(model))
    layers = config.layers or list(range(n_layers))
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise UserError(f"--layers {bad} do not exist; this model has layers 0..{n_layers - 1}")
    device = next(model.parameters()).device
    bos = bos_id(tokenizer)
    per_layer: list[list[np.ndarray]] = [[] for _ in layers]
    labels, doc_ids = [], []
    docs = _documents(config)
    with progress_bar() as bar, contextlib.ExitStack() as stack:
        stores = [stack.enter_context(capture_hook(model, f"{config.site}.{layer}"))
                  for layer in layers]
        # Stop the forward pass after the deepest probed layer: later layers are not needed.
        stack.enter_context(capture_hook(model, f"resid_post.{max(layers)}", stop=True))
        task = bar.add_task(f"probe activations ({config.site}, {len(layers)} layers)",
                            total=len(docs))
        for doc_index, (text, doc_label) in enumerate(docs):
            body = tokenizer(text[:config.context * 16], add_special_tokens=False)["input_ids"]
            ids = [bos, *body[:config.context - 1]]
            if len(ids) < 3:
                bar.advance(task)
                continue
            run_until_hook(model, input_ids=torch.tensor([ids], device=device))
            for i, store in enumerate(stores):
                per_layer[i].append(store.pop()[0, 1:].float().cpu().numpy())  # (T-1, d)
            if doc_label is None:  # digit label: from each token's text
                labels += [int(any(ch.isdigit() for ch in tokenizer.decode([t]))) for t in ids[1:]]
            else:
                labels += [doc_label] * (len(ids) - 1)
            doc_ids += [doc_index] * (len(ids) - 1)
            bar.advance(task)
    acts = {layer: np.concatenate(a) for layer, a in zip(layers, per_layer, strict=True)}
    return acts, np.array(labels), np.array(doc_ids)


def fit_probes(acts: dict[int, np.ndarray], labels: np.ndarray, doc_ids: np.ndarray,
               config: ProbeConfig) -> tuple[list[dict], dict]:
    """One logistic regression per layer; returns per-layer results and directions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(config.seed)
    docs = np.unique(doc_ids)
    train_docs = rng.permutation(docs)[:int(len(docs) * TRAIN_FRAC)]
    is_train = np.isin(doc_ids, train_docs)
    cap = config.max_tokens_per_class
    train_idx = np.flatnonzero(is_train)[_balanced(labels[is_train], cap, rng)]
    test_idx = np.flatnonzero(~is_train)[_balanced(labels[~is_train], cap, rng)]
    results, directions = [], {}
    for layer, x in acts.items():
        scaler = StandardScaler().fit(x[train_idx])
        clf = LogisticRegression(max_iter=2000, C=0.1).fit(scaler.transform(x[train_idx]),
                                                            labels[train_idx])
        train_acc = clf.score(scaler.transform(x[train_idx]), labels[train_idx])
        test_acc = clf.score(scaler.transform(x[test_idx]), labels[test_idx])
        raw = clf.coef_[0] / scaler.scale_  # (d,) direction in raw activation units
        unit = torch.tensor(raw / np.linalg.norm(raw), dtype=torch.float32)
        directions[layer] = {"direction": unit,
                             "mean_norm": float(np.linalg.norm(x, axis=1).mean())}
        results.append({"layer": layer, "train_acc": round(float(train_acc), 4),
                        "test_acc": round(float(test_acc), 4)})
    split = {"train_rows": len(train_idx), "test_rows": len(test_idx),
             "train_docs": len(train_docs), "test_docs": len(docs) - len(train_docs)}
    return results, {"directions": directions, "split": split}


def plot(results: list[dict], config: ProbeConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    layers = [r["layer"] for r in results]
    ax.plot(layers, [r["test_acc"] for r in results], "o-", label="held-out")
    ax.plot(layers, [r["train_acc"] for r in results], "--", alpha=0.6, label="train")
    ax.axhline(0.5, color="grey", lw=0.8, label="chance (balanced)")
    ax.set_xlabel(f"layer ({config.site})")
    ax.set_ylabel("accuracy")
    ax.set_title(f"linear probe: {config.label} ({config.model})")
    ax.set_ylim(0.4, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def run_probe(config: ProbeConfig, model=None, tokenizer=None) -> dict:
    seed_everything(config.seed)
    if model is None:
        model, tokenizer = load_causal_lm(config.model, device=pick_device(config.device))
    model.eval()
    acts, labels, doc_ids = collect(model, tokenizer, config)
    results, extra = fit_probes(acts, labels, doc_ids, config)
    best = max(results, key=lambda r: (r["test_acc"], -r["layer"]))
    summary = {"model": config.model, "label": config.label, "site": config.site,
               "best_layer": best["layer"], "best_test_acc": best["test_acc"],
               "layers": results, **extra["split"]}
    config.out.mkdir(parents=True, exist_ok=True)
    write_json(config.out / "probe.json", summary)
    save_probes(config.out, model=config.model, site=config.site, label=config.label,
                directions=extra["directions"])
    plot(results, config, config.out / "probe.png")
    return summary
