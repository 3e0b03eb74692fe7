"""How good is an SAE: sparsity, reconstruction, dead/dense latents and the model's loss with it.

- L0: mean number of latents active per token.
- FVU: sum ||x - x^||^2 / sum ||x - mean(x)||^2 over the held-out rows (0 = perfect, 1 = no better
  than the mean activation).
- dead fraction: latents that never fire on the held-out rows; dense fraction: latents firing on
  more than `dense_threshold` of them.
- spliced loss: the model's next-token cross-entropy on held-out windows with the hook's
  activation replaced by the SAE reconstruction (`delta_loss` = spliced - clean), and with it
  replaced by zeros (`zero_ablation_delta`) for scale; `loss_recovered` = 1 - delta/zero_delta.
  Position 0 (BOS, the attention sink) keeps its true activation in both, as in SAELens' evals.
Rows and windows are the store's held-out tail (`ActivationStore.split`, never trained on).
Leaves out the downstream KL and per-feature interpretability scores.
Run: `uv run sae-probe evaluate --sae runs/sae --acts runs/acts --json`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from llm_shared import load_causal_lm, pick_device

from .config import EvalConfig
from .hooks import edit_hook
from .sae import SparseAutoencoder
from .store import ActivationStore
from .train import load_sae


@torch.no_grad()
def recon_metrics(encode: Callable, decode: Callable, x: torch.Tensor, d_sae: int,
                  dense_threshold: float = 0.1, batch: int = 4096) -> dict:
    """L0, FVU, dead and dense fractions of any encoder/decoder pair on rows x (N, d)."""
    fired = torch.zeros(d_sae)
    sq_err, l0_sum = 0.0, 0.0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]  # (b, d)
        f = encode(xb)  # (b, m)
        active = f != 0
        l0_sum += float(active.sum())
        fired += active.sum(0).float().cpu()
        sq_err += float((decode(f) - xb).pow(2).sum())
    total_var = float((x - x.mean(0)).pow(2).sum())
    freq = fired / len(x)
    return {"l0": l0_sum / len(x), "fvu": sq_err / total_var,
            "dead_frac": float((fired == 0).float().mean()),
            "dense_frac": float((freq > dense_threshold).float().mean()), "rows": len(x)}


def eval_windows(store: ActivationStore, n: int) -> list[np.ndarray]:
    """Token ids of up to `n` held-out windows, full-length ones first (fewer pad-free batches)."""
    held = store.split()[2]
    held = sorted(held, key=lambda w: -w.length)[:n]
    return [store.window_tokens(w) for w in held]


@torch.no_grad()
def spliced_losses(model, hook: str, windows: list[np.ndarray],
                   reconstruct: Callable[[torch.Tensor], torch.Tensor], batch: int = 8,
                   baseline: dict | None = None) -> dict:
    """Mean next-token CE clean, with `reconstruct` spliced in at `hook`, and with zeros there.
    `baseline` (an earlier result on the same windows) reuses its clean and zero-ablation losses."""
    device = next(model.parameters()).device

    def spliced(fn):
        def edit(x):  # x (B, T, d); position 0 keeps its true activation
            out = x.clone()
            B, T, d = x.shape
            out[:, 1:] = fn(x[:, 1:].reshape(-1, d).float()).reshape(B, T - 1, d).to(x.dtype)
            return out
        return edit

    def ce(edit=None) -> float:
        total, count = 0.0, 0
        for i in range(0, len(windows), batch):
            chunk = windows[i:i + batch]
            T = min(len(w) for w in chunk)
            ids = torch.tensor(np.stack([w[:T] for w in chunk]), dtype=torch.long, device=device)
            if edit is None:
                logits = model(input_ids=ids).logits  # (B, T, V)
            else:
                with edit_hook(model, hook, edit):
                    logits = model(input_ids=ids).logits
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                   ids[:, 1:].reshape(-1), reduction="sum")
            total += float(loss)
            count += ids[:, 1:].numel()
        return total / count

    if baseline is not None:
        clean, zero = baseline["loss_clean"], baseline["loss_zero_ablation"]
    else:
        clean, zero = ce(), ce(spliced(torch.zeros_like))
    with_sae = ce(spliced(reconstruct))
    return {"loss_clean": clean, "loss_spliced": with_sae, "loss_zero_ablation": zero,
            "delta_loss": with_sae - clean, "zero_ablation_delta": zero - clean,
            "loss_recovered": 1 - (with_sae - clean) / max(zero - clean, 1e-12)}


def heldout_rows(store: ActivationStore, n: int) -> np.ndarray:
    rows = store.split()[1]
    return rows[:n]


def evaluate_sae(sae: SparseAutoencoder, store: ActivationStore, config: EvalConfig,
                 model=None) -> dict:
    """All metrics of `sae` on `store`; loads the store's model unless one is given."""
    store.check_matches(model=sae.cfg.model, hook=sae.cfg.hook, d_model=sae.cfg.d_in)
    device = pick_device(config.device)
    sae = sae.to(device).eval()
    x = torch.from_numpy(store.gather(heldout_rows(store, config.eval_tokens))).to(device)
    result = recon_metrics(sae.encode, sae.decode, x, sae.cfg.d_sae, config.dense_threshold)
    if config.loss_windows > 0:
        if model is None:
            model, _ = load_causal_lm(store.model, device=device)
        result.update(spliced_losses(model, store.hook, eval_windows(store, config.loss_windows),
                                     sae.forward))
    return {"arch": sae.cfg.arch, "d_sae": sae.cfg.d_sae, "hook": store.hook, **result}


def evaluate(config: EvalConfig) -> dict:
    return evaluate_sae(load_sae(config.sae), ActivationStore(config.acts), config)
