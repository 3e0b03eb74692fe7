"""Bench: our TopK SAE against SAELens' TopKTrainingSAE on the same captured activations.

Both train on the same store (same rows, the same seeded batch order), with the same dictionary
size, k, batch size, learning rate, warm-up and number of tokens. SAELens keeps its recommended
TopK settings (decoder rows initialised at norm 0.1 with a tied encoder, decoder-norm-rescaled
TopK, AuxK with coefficient 1, grad-norm clipping) and gets `normalize_activations=
"expected_average_only_in"` (its factor sqrt(d)/E||x|| set from the same sample as ours) and
`b_dec` initialised at the geometric median of that sample, as SAELens' `b_dec_init_method=
"geometric_median"` did before v6 dropped it (with `b_dec` at zero it has to learn the large
mean of the residual stream at lr-sized steps and ends at FVU ~1 in short runs; `--saelens-b-dec
zeros` shows that). Training runs alternate (ours, theirs, theirs, ours ...): the median wall
time gives time per token. Every `eval_every` steps each run measures FVU on held-out rows
outside its timed part, which gives the tokens and seconds each side needs to reach the same
FVU (the worse of the two final FVUs). At the end both SAEs are measured by the same code
(`evaluate.recon_metrics`, `evaluate.spliced_losses`) on the store's held-out rows and windows.
SAELens is a dev dependency (`uv sync --package sae-probe` installs it). Leaves out SAELens' own
LM-driven ActivationsStore: the point is equal inputs.
Run: `uv run sae-probe bench --json` or `uv run python bench/bench_topk_vs_saelens.py`.
"""

from __future__ import annotations

import math
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
from .train import batch_rows, geometric_median, load_sae, train


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
    saelens_b_dec: str = param("geometric_median", help="SAELens' b_dec init: geometric_median "
                               "(as ours) or zeros (its v6 default)",
                               choices=("geometric_median", "zeros"))
    eval_every: int = param(10, help="steps between held-out FVU measurements (untimed)")
    trace_rows: int = param(2048, help="held-out rows of those FVU measurements")
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
        if self.repeats < 1 or self.eval_every < 1:
            raise UserError(f"--repeats and --eval-every must be >= 1 (got {self.repeats}, "
                            f"{self.eval_every})")


class _Trace:
    """FVU on fixed held-out rows every `every` steps, with the training seconds spent so far
    (the time spent measuring is left out). FVU does not depend on the input scale, so SAELens'
    mid-training SAE (which sees scaled inputs) is measured on `x * scale`."""

    def __init__(self, x: torch.Tensor, every: int):
        self.x, self.every = x, every  # (N, d)
        self.points: list[tuple[int, float, float]] = []  # (steps, train seconds, fvu)
        self.start = time.perf_counter()
        self.paused = 0.0

    @torch.no_grad()
    def __call__(self, steps: int, sae) -> None:
        if steps % self.every:
            return
        tick = time.perf_counter()
        x = self.x
        fvu = float((sae.decode(sae.encode(x)) - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum())
        self.points.append((steps, tick - self.start - self.paused, fvu))
        self.paused += time.perf_counter() - tick

    def final(self, steps: int, sae) -> None:
        """Measure at the last step too when it is not a multiple of `every`."""
        if not self.points or self.points[-1][0] != steps:
            self.every, every = 1, self.every
            self(steps, sae)
            self.every = every


def _train_ours(config: BenchConfig, x_trace: torch.Tensor, traces: list):
    train_config = TrainConfig(
        acts=config.acts, out=config.out / "ours", arch="topk", d_sae=config.d_sae, k=config.k,
        tokens=config.tokens, batch_size=config.batch_size, lr=config.lr,
        warmup_steps=config.warmup_steps, decay_frac=0.0, checkpoint_every=10**9,
        seed=config.seed, device="cpu", overwrite=True)
    trace = _Trace(x_trace, config.eval_every)
    train(train_config, trace=trace)
    sae = load_sae(config.out / "ours")
    trace.final(config.tokens // config.batch_size, sae)
    traces.append(trace)
    return sae


def _import_saelens():
    try:
        import sae_lens
        from sae_lens.config import SAETrainerConfig
    except ImportError as exc:
        raise UserError(f"SAELens is not importable ({exc}); run `uv sync --package sae-probe` "
                        "(it is in the dev group)") from exc
    return sae_lens, SAETrainerConfig


def _train_saelens(config: BenchConfig, store: ActivationStore, x_trace: torch.Tensor,
                   traces: list):
    sae_lens, SAETrainerConfig = _import_saelens()
    trace = _Trace(x_trace, config.eval_every)  # started here: its b_dec init counts, as ours
    rows, _, _ = store.split()
    seed_everything(config.seed)
    steps = config.tokens // config.batch_size
    sae = sae_lens.TopKTrainingSAE(sae_lens.TopKTrainingSAEConfig(
        d_in=store.d_model, d_sae=config.d_sae, k=config.k, dtype="float32", device="cpu",
        normalize_activations="expected_average_only_in"))
    # SAELens' own estimate (sqrt(d) / mean norm), from the sample our trainer uses for its init.
    sample_rows = np.random.default_rng(config.seed).choice(rows, min(len(rows), 8192),
                                                            replace=False)
    sample = torch.from_numpy(store.gather(sample_rows))  # (S, d)
    scale = math.sqrt(store.d_model) / float(sample.norm(dim=1).mean())
    if config.saelens_b_dec == "geometric_median":
        with torch.no_grad():
            sae.b_dec.copy_(geometric_median(sample * scale))
    trace.x = x_trace * scale

    def provider():
        for step in range(10**9):  # the same seeded batch order as our trainer
            if step:
                trace(step, sae)  # `step` optimizer steps are done when batch `step` is asked for
            yield torch.from_numpy(store.gather(batch_rows(rows, step, config.batch_size,
                                                           config.seed)))

    trainer_cfg = SAETrainerConfig(
        total_training_samples=steps * config.batch_size,
        train_batch_size_samples=config.batch_size, lr=config.lr, lr_end=config.lr,
        lr_warm_up_steps=config.warmup_steps, device="cpu",
        dead_feature_window=max(1, 50_000 // config.batch_size),  # = our dead_tokens default
        feature_sampling_window=10**9, n_batches_for_norm_estimate=8,
        logger=sae_lens.LoggingConfig(log_to_wandb=False))
    trainer = sae_lens.SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=provider())
    trainer.activation_scaler.scaling_factor = scale  # set: fit() does not re-estimate it
    trainer.fit()  # folds the scale into the weights at the end: the SAE then takes raw inputs
    sae.eval()
    trace.x = x_trace
    trace.final(steps, sae)
    traces.append(trace)
    return sae


def ensure_store(config: BenchConfig) -> ActivationStore:
    if not (config.acts / MANIFEST).is_file():
        capture(CaptureConfig(out=config.acts, model=config.model, hook=config.hook,
                              max_tokens=config.capture_tokens, device="cpu"))
    return ActivationStore(config.acts)


def time_to_fvu(points: list[tuple[int, float, float]], target: float,
                batch_size: int) -> tuple[int | None, float | None]:
    """(tokens, train seconds) at the first measurement with FVU <= target; None if never."""
    for steps, seconds, fvu in points:
        if fvu <= target:
            return steps * batch_size, seconds
    return None, None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def run_bench(config: BenchConfig) -> dict:
    _import_saelens()  # before timing: its import (~20 s) is not training time
    store = ensure_store(config)
    _, held_rows, _ = store.split()
    x_trace = torch.from_numpy(store.gather(held_rows[:config.trace_rows]))  # (n, d)
    trained: dict[str, object] = {}
    traces: dict[str, list] = {"ours": [], "saelens": []}
    comparison = compare(
        lambda: trained.__setitem__("ours", _train_ours(config, x_trace, traces["ours"])),
        lambda: trained.__setitem__("saelens", _train_saelens(config, store, x_trace,
                                                             traces["saelens"])),
        repeats=config.repeats, warmup=0, names=("ours", "saelens"))
    x = torch.from_numpy(store.gather(held_rows[:20_000]))  # (N, d)
    model, _ = load_causal_lm(store.model, device="cpu")
    windows = eval_windows(store, config.loss_windows)
    steps = config.tokens // config.batch_size
    # One curve per side: FVU per measurement is the same in every repeat (seeded); the seconds
    # at each measurement are the median over repeats.
    curves = {name: [(s, float(np.median([t.points[i][1] for t in runs])), f)
                     for i, (s, _, f) in enumerate(runs[0].points)]
              for name, runs in traces.items()}
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
    # The FVU both reach: the worse of the two final traced FVUs.
    target = max(curves["ours"][-1][2], curves["saelens"][-1][2])
    reach = {name: time_to_fvu(curve, target, config.batch_size) for name, curve in curves.items()}
    for row in rows:
        row["tokens_to_target"], row["s_to_target"] = reach[row["impl"]]
        row["s_to_target"] = round(row["s_to_target"], 2) if row["s_to_target"] else None
    summary = {"hook": store.hook, "d_sae": config.d_sae, "k": config.k,
               "train_tokens": steps * config.batch_size, "heldout_rows": len(x),
               "saelens_b_dec": config.saelens_b_dec,
               "ours_fvu": ours["fvu"], "saelens_fvu": theirs["fvu"],
               "ours_l0": ours["l0"], "saelens_l0": theirs["l0"],
               "ours_dead": ours["dead_frac"], "saelens_dead": theirs["dead_frac"],
               "ours_delta_loss": ours["delta_loss"], "saelens_delta_loss": theirs["delta_loss"],
               "time_ratio_ours_over_saelens": round(comparison.median_a / comparison.median_b, 3),
               "target_fvu": round(target, 4),
               "tokens_to_target_ours": reach["ours"][0],
               "tokens_to_target_saelens": reach["saelens"][0],
               "tokens_ratio_ours_over_saelens": _ratio(reach["ours"][0], reach["saelens"][0]),
               "seconds_ratio_ours_over_saelens": _ratio(reach["ours"][1], reach["saelens"][1]),
               "repeats": config.repeats,
               "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    curve_rows = [{"steps": s, **{f"{name}_fvu": round(curves[name][i][2], 4)
                                  for name in curves if i < len(curves[name])}}
                  for i, (s, _, _) in enumerate(curves["ours"])]
    return {"rows": rows, "summary": summary, "curve": curve_rows,
            "seconds": comparison.as_dict(), "np": np.__version__}
