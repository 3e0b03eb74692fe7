"""Train a sparse autoencoder on a captured activation store, with checkpoints and --resume.

The loop: Adam with a linear warm-up then a constant rate and a linear decay over the last
`decay_frac` of steps; the decoder bias starts at the geometric median (Weiszfeld) or the mean of
a sample; inputs are scaled so E||x||^2 = d_in; decoder rows stay at unit norm; a latent is dead
once `dead_tokens` tokens passed without it firing (TopK's AuxK loss trains the dead ones).
Batches come from a seeded permutation per epoch, so the batch of step s depends only on (seed, s):
a run resumed from a checkpoint (weights, Adam state, dead counters, RNG) ends with the same
weights as an uninterrupted one, running only the missing steps. The SAE is written as
sae.safetensors + sae.json (`artifacts.py`); an earlier one in --out is kept unless --overwrite.
Leaves out multi-GPU training and ghost grads.
Run: `uv run sae-probe train --acts runs/acts --arch topk --d-sae 4608 --k 32 --out runs/sae`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from llm_shared import (
    UserError,
    atomic_write,
    pick_device,
    progress_bar,
    seed_everything,
    write_json,
)

from .artifacts import SAE_CONFIG, SAE_WEIGHTS, load_checkpoint, sae_from_files, save_sae
from .config import TrainConfig
from .sae import SAEConfig, SparseAutoencoder
from .store import ActivationStore

CHECKPOINT = "checkpoint.pt"


def geometric_median(points: torch.Tensor, iters: int = 100, tol: float = 1e-6) -> torch.Tensor:
    """Weiszfeld's algorithm: the point minimising the sum of Euclidean distances (N, d) -> (d,)."""
    median = points.mean(0)
    for _ in range(iters):
        dist = (points - median).norm(dim=1).clamp_min(1e-8)  # (N,)
        weights = 1 / dist
        new = (weights[:, None] * points).sum(0) / weights.sum()
        if (new - median).norm() < tol * median.norm().clamp_min(1e-8):
            return new
        median = new
    return median


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Warm-up 0 -> lr over warmup_steps, constant, then linear decay to 0 over the last part."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_start = int(total * (1 - config.decay_frac))
    if config.decay_frac > 0 and step >= decay_start:
        return config.lr * max(0.0, (total - step) / (total - decay_start))
    return config.lr


def batch_rows(rows: np.ndarray, step: int, batch_size: int, seed: int) -> np.ndarray:
    """Rows of step `step`: a slice of the epoch's seeded permutation (depends on seed and step)."""
    per_epoch = len(rows) // batch_size
    epoch, offset = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(len(rows))
    return rows[order[offset * batch_size:(offset + 1) * batch_size]]


def init_sae(config: TrainConfig, store: ActivationStore, rows: np.ndarray) -> SparseAutoencoder:
    seed_everything(config.seed)
    sae = SparseAutoencoder(SAEConfig(
        d_in=store.d_model, d_sae=config.d_sae, arch=config.arch, k=config.k, aux_k=config.aux_k,
        aux_coeff=config.aux_coeff, l1_coeff=config.l1_coeff,
        jumprelu_init_threshold=config.jumprelu_init_threshold,
        jumprelu_bandwidth=config.jumprelu_bandwidth, model=store.model, hook=store.hook))
    sample_rows = np.random.default_rng(config.seed).choice(rows, min(len(rows), 8192),
                                                            replace=False)
    sample = torch.from_numpy(store.gather(sample_rows))  # (S, d)
    with torch.no_grad():
        sae.scale.fill_(float(np.sqrt(store.d_model) / sample.norm(dim=1).pow(2).mean().sqrt()))
        sample = sample * sae.scale
        if config.b_dec_init == "geometric_median":
            sae.b_dec.copy_(geometric_median(sample))
        elif config.b_dec_init == "mean":
            sae.b_dec.copy_(sample.mean(0))
    return sae


def _save_checkpoint(out: Path, sae, optimizer, step: int, since_fired: torch.Tensor,
                     history: list) -> None:
    state = {"sae": sae.save_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "since_fired": since_fired, "history": history,
             "torch_rng": torch.get_rng_state()}
    with atomic_write(out / CHECKPOINT, "wb") as handle:
        torch.save(state, handle)


def _claim_out(config: TrainConfig) -> None:
    """Refuse to replace an earlier SAE or checkpoint in --out unless --overwrite was given."""
    earlier = [n for n in (SAE_WEIGHTS, SAE_CONFIG, CHECKPOINT) if (config.out / n).is_file()]
    if not earlier:
        return
    if not config.overwrite:
        raise UserError(f"{config.out} already holds {', '.join(earlier)}; pass --resume to "
                        "continue that run, --overwrite to replace it, or pick a new --out")
    for name in earlier:  # before training, so the folder never mixes the old SAE and a new run
        (config.out / name).unlink()


def train(config: TrainConfig, *, on_step: Callable[[int, dict], None] | None = None,
          stop_after: int | None = None,
          trace: Callable[[int, SparseAutoencoder], None] | None = None) -> dict:
    """Train per `config`; returns a summary. `stop_after` ends early (tests of --resume);
    `trace(steps_done, sae)` runs after every step, outside the timed part (bench curves)."""
    store = ActivationStore(config.acts)
    rows, _, _ = store.split()
    if len(rows) < config.batch_size:
        raise UserError(f"{config.acts} holds {len(rows)} usable rows, fewer than --batch-size "
                        f"{config.batch_size}; capture more tokens or lower the batch size")
    device = pick_device(config.device)
    total_steps = max(1, config.tokens // config.batch_size)
    config.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = config.out / CHECKPOINT
    if config.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        try:
            sae = SparseAutoencoder.from_dict(state["sae"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise UserError(f"{ckpt_path} does not hold an sae-probe SAE ({exc}); remove it or "
                            "start without --resume") from exc
        store.check_matches(model=sae.cfg.model, hook=sae.cfg.hook, what="the checkpoint")
        sae.to(device)
        optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["step"], state["history"]
        since_fired = state["since_fired"].to(device)
        torch.set_rng_state(state["torch_rng"])
    else:
        if config.resume:
            raise UserError(f"--resume: no {CHECKPOINT} in {config.out}; start without --resume")
        _claim_out(config)
        sae = init_sae(config, store, rows).to(device)
        optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
        start, history = 0, []
        since_fired = torch.zeros(config.d_sae, device=device)  # tokens since each latent fired
    write_json(config.out / "train_config.json",
               {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()})
    seconds = 0.0
    last = start
    steps_run = 0
    with progress_bar() as bar:
        task = bar.add_task(f"train {config.arch}", total=total_steps, completed=start)
        for step in range(start, total_steps):
            tick = time.perf_counter()
            x = torch.from_numpy(store.gather(batch_rows(rows, step, config.batch_size,
                                                         config.seed))).to(device)  # (B, d)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total_steps, config)
            dead = since_fired > config.dead_tokens
            loss, info = sae.loss(x, dead)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            sae.remove_parallel_grad()
            optimizer.step()
            sae.normalize_decoder()
            since_fired += x.shape[0]
            since_fired[info["fired"]] = 0
            seconds += time.perf_counter() - tick
            last = step + 1
            steps_run += 1
            if trace is not None:
                trace(last, sae)
            if step % 20 == 0 or last == total_steps:
                record = {"step": step, "loss": float(loss.detach()),
                          **{k: v for k, v in info.items() if k != "fired"},
                          "dead_frac": float(dead.float().mean())}
                history.append(record)
                if on_step:
                    on_step(step, record)
                bar.update(task, completed=last,
                           description=f"train {config.arch} loss {record['loss']:.4f} "
                                       f"L0 {record['l0']:.1f} dead {record['dead_frac']:.2f}")
            if last % config.checkpoint_every == 0 or last == total_steps:
                _save_checkpoint(config.out, sae, optimizer, last, since_fired, history)
            if stop_after is not None and last >= stop_after:
                break
    sae.cpu()
    if last == total_steps:
        save_sae(sae, config.out)
    summary = {"steps": last, "total_steps": total_steps, "steps_this_run": steps_run,
               "tokens": last * config.batch_size,
               "train_seconds_this_run": round(seconds, 3),
               "dead_frac": float((since_fired > config.dead_tokens).float().mean()),
               "final": history[-1] if history else {}}
    write_json(config.out / "train_summary.json", summary)
    return summary


def load_sae(path: str | Path) -> SparseAutoencoder:
    """A trained SAE from its folder (sae.safetensors + sae.json) or its .safetensors file;
    UserError when missing, unfinished, foreign or corrupt (nothing is unpickled)."""
    return sae_from_files(path)
