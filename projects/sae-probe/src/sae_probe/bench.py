"""Bench: our TopK SAE against SAELens' TopKTrainingSAE on the same captured activations.

Both train on the same store (same rows, the same seeded batch order), with the same dictionary
size, k, batch size, learning rate, warm-up and number of tokens; each side keeps its own
defaults for everything else (SAELens: decoder init norm 0.1, decoder-norm-rescaled TopK, its
AuxK with coefficient 1; both normalise inputs to E||x||^2 = d_in). Training runs alternate
(ours, theirs, theirs, ours ...) and the median wall time gives time per token. Then both are
measured by the same code (`evaluate.recon_metrics`, `evaluate.spliced_losses`) on the store's
held-out rows and windows. SAELens is a dev dependency (`uv sync --package sae-probe` installs
it). Leaves out SAELens' own LM-driven ActivationsStore: the point is equal inputs.
Run: `uv run sae-probe bench --json` or `uv run python bench/bench_topk_vs_saelens.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from llm_shared import EMBEDDED_LLM, UserError, compare, load_causal_lm, param, seed_everything

from .capture import capture
from .config import CaptureConfig, TrainConfig
from .evaluate import eval_windows, recon_metrics, spliced_losses
from .store import MANIFEST, ActivationStore
from .train import batch_rows, load_sae, train


@dataclass
class BenchConfig:
    acts: Path = param(Path("runs/bench-acts"), help="activation store (captured if missing)")
    model: str = param(EMBEDDED_LLM, help="model captured when --acts is missing")
    hook: str = param("resid_post.3", help="hook captured when --acts is missing")
    capture_tokens: int = param(40_000, help="rows captured when --acts is missing")
    d_sae: int = param(2304, help="dictionary size of both SAEs")
    k: int = param(32, help="k of both SAEs")
    tokens: int = param(120_000, help="training tokens of each run")
    batch_size: int = param(1024, help="tokens per step")
    lr: float = param(4e-4, help="Adam learning rate of both")
    warmup_steps: int = param(20, help="linear warm-up steps of both")
    repeats: int = param(2, help="timed training runs of each (alternating); median reported")
    loss_windows: int = param(8, help="held-out windows for the spliced loss")
    out: Path = param(Path("runs/bench"), help="folder for our SAE runs")
    seed: int = param(0, help="seed of weights and batch order")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        self.acts, self.out = Path(self.acts), Path(self.out)
        if self.k > self.d_sae:
            raise UserError(f"--k {self.k} is larger than the dictionary (--d-sae {self.d_sae}); "
                            "choose k <= d_sae")
        if self.repeats < 1:
            raise UserError(f"--repeats must be >= 1 (got {self.repeats})")


def _train_ours(config: BenchConfig):
    train_config = TrainConfig(
        acts=config.acts, out=config.out / "ours", arch="topk", d_sae=config.d_sae, k=config.k,
        tokens=config.tokens, batch_size=config.batch_size, lr=config.lr,
        warmup_steps=config.warmup_steps, decay_frac=0.0, checkpoint_every=10**9,
        seed=config.seed, device="cpu")
    train(train_config)
    return load_sae(config.out / "ours")


def _import_saelens():
    try:
        import sae_lens
        from sae_lens.config import SAETrainerConfig
    except ImportError as exc:
        raise UserError(f"SAELens is not importable ({exc}); run `uv sync --package sae-probe` "
                        "(it is in the dev group)") from exc
    return sae_lens, SAETrainerConfig


def _train_saelens(config: BenchConfig, store: ActivationStore):
    sae_lens, SAETrainerConfig = _import_saelens()
    LoggingConfig, SAETrainer = sae_lens.LoggingConfig, sae_lens.SAETrainer
    TopKTrainingSAE = sae_lens.TopKTrainingSAE
    TopKTrainingSAEConfig = sae_lens.TopKTrainingSAEConfig
    rows, _, _ = store.split()
    seed_everything(config.seed)

    def provider():
        step = 0
        while True:  # the same seeded batch order as our trainer
            yield torch.from_numpy(store.gather(batch_rows(rows, step, config.batch_size,
                                                           config.seed)))
            step += 1

    sae_cfg = TopKTrainingSAEConfig(d_in=store.d_model, d_sae=config.d_sae, k=config.k,
                                    dtype="float32", device="cpu",
                                    normalize_activations="expected_average_only_in")
    sae = TopKTrainingSAE(sae_cfg)
    steps = config.tokens // config.batch_size
    trainer_cfg = SAETrainerConfig(
        total_training_samples=steps * config.batch_size,
        train_batch_size_samples=config.batch_size, lr=config.lr, lr_end=config.lr,
        lr_warm_up_steps=config.warmup_steps, device="cpu",
        dead_feature_window=max(1, 50_000 // config.batch_size),  # = our dead_tokens default
        feature_sampling_window=10**9, n_batches_for_norm_estimate=8,
        logger=LoggingConfig(log_to_wandb=False))
    SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=provider()).fit()
    sae.eval()
    return sae


def ensure_store(config: BenchConfig) -> ActivationStore:
    if not (config.acts / MANIFEST).is_file():
        capture(CaptureConfig(out=config.acts, model=config.model, hook=config.hook,
                              max_tokens=config.capture_tokens, device="cpu"))
    return ActivationStore(config.acts)


def run_bench(config: BenchConfig) -> dict:
    _import_saelens()  # before timing: its import (~20 s) is not training time
    store = ensure_store(config)
    trained: dict[str, object] = {}
    comparison = compare(lambda: trained.__setitem__("ours", _train_ours(config)),
                         lambda: trained.__setitem__("saelens", _train_saelens(config, store)),
                         repeats=config.repeats, warmup=0, names=("ours", "saelens"))
    _, held_rows, _ = store.split()
    x = torch.from_numpy(store.gather(held_rows[:20_000]))  # (N, d)
    model, _ = load_causal_lm(store.model, device="cpu")
    windows = eval_windows(store, config.loss_windows)
    steps = config.tokens // config.batch_size
    rows, baseline = [], None
    for name, sae in trained.items():
        with torch.no_grad():
            metrics = recon_metrics(sae.encode, sae.decode, x, config.d_sae)
            losses = spliced_losses(model, store.hook, windows,
                                    lambda a, s=sae: s.decode(s.encode(a)), baseline=baseline)
            baseline = losses
        seconds = comparison.median_a if name == "ours" else comparison.median_b
        rows.append({"impl": name, "fvu": round(metrics["fvu"], 4), "l0": round(metrics["l0"], 2),
                     "dead_frac": round(metrics["dead_frac"], 4),
                     "delta_loss": round(losses["delta_loss"], 4),
                     "zero_abl_delta": round(losses["zero_ablation_delta"], 4),
                     "loss_recovered": round(losses["loss_recovered"], 4),
                     "train_s": round(seconds, 2),
                     "us_per_token": round(seconds / (steps * config.batch_size) * 1e6, 2)})
    ours, theirs = rows
    summary = {"hook": store.hook, "d_sae": config.d_sae, "k": config.k,
               "train_tokens": steps * config.batch_size, "heldout_rows": len(x),
               "ours_fvu": ours["fvu"], "saelens_fvu": theirs["fvu"],
               "ours_l0": ours["l0"], "saelens_l0": theirs["l0"],
               "ours_dead": ours["dead_frac"], "saelens_dead": theirs["dead_frac"],
               "ours_delta_loss": ours["delta_loss"], "saelens_delta_loss": theirs["delta_loss"],
               "time_ratio_ours_over_saelens": round(comparison.median_a / comparison.median_b, 3),
               "repeats": config.repeats,
               "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    return {"rows": rows, "summary": summary, "seconds": comparison.as_dict(),
            "np": np.__version__}
