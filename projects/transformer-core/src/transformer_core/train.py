"""Training on a task: label-smoothed cross-entropy, Adam with the Noam warm-up schedule,
checkpoints every N steps and `--resume`, held-out exact match, and the run folder's files.

A run folder holds `model.safetensors`, `config.json` (task + architecture), `metrics.json`,
`loss.png` and `checkpoint/` (weights, Adam state, step, loss curve: safetensors + JSON, never
pickle). Batches are a pure function of (seed, step), so a resumed run continues with exactly the
batches an uninterrupted one would have seen. Left out: multi-GPU, mixed precision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from llm_shared import (
    UserError,
    atomic_dir,
    atomic_write,
    progress_bar,
    seed_everything,
    write_json,
)
from safetensors.torch import load_file, save

from .config import ModelConfig, TrainConfig
from .decode import greedy
from .model import Transformer
from .tasks import PAD, VOCAB, Task, decode, encode, pad_rows

LOG_EVERY = 25  # steps per point of the loss curve: the curve stays short for any --steps
# Settings a resumed run must share with the checkpoint (steps may grow; the rest would change it).
_FIXED = ("task", "length", "attention", "position", "norm", "activation", "d_model", "num_heads",
          "num_layers", "dim_ff", "dropout", "batch_size", "lr_factor", "warmup",
          "label_smoothing", "reverse_digits", "seed")


def noam_lr(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The paper's schedule: linear warm-up for `warmup` steps, then decay as 1/√step.

    >>> round(noam_lr(100, 64, 100), 6)   # the peak: 64^-0.5 · 100^-0.5
    0.0125
    """
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, epsilon: float,
                        ignore_index: int = PAD) -> torch.Tensor:
    """(1 - ε) · NLL(target) + ε · mean over the vocabulary of -log p; padding ignored.

    logits (N, V), target (N,). ε = 0 is plain cross-entropy."""
    logp = logits.log_softmax(-1)  # (N, V)
    keep = target != ignore_index  # (N,)
    nll = -logp.gather(-1, target[:, None]).squeeze(-1)  # (N,)
    uniform = -logp.mean(-1)  # (N,)
    per_token = (1.0 - epsilon) * nll + epsilon * uniform
    return per_token[keep].mean()


def max_len_for(task: Task) -> int:
    """Positions the model is built with: room for twice the trained length (the length
    generalisation test) plus BOS/EOS."""
    longest = 2 * task.length + 1 if task.name == "add" else task.length
    return max(64, 2 * longest + 4)


def exact_match(model: Transformer, task: Task, pairs: list[tuple[list[str], list[str]]],
                batch_size: int = 256) -> float:
    model.eval()
    right = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        src = pad_rows([encode(s) for s, _ in chunk])
        longest = max(len(t) for _, t in chunk)
        outputs = greedy(model, src, max_new=longest + 2)
        right += sum(decode(o) == t for o, (_, t) in zip(outputs, chunk, strict=True))
    return right / len(pairs)


def _save_state(model: Transformer) -> bytes:
    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def _save_checkpoint(folder: Path, model: Transformer, optimizer: torch.optim.Optimizer,
                     state: dict[str, Any]) -> None:
    opt = optimizer.state_dict()
    tensors = {f"{i}.{key}": value for i, slots in opt["state"].items()
               for key, value in slots.items()}
    with atomic_dir(folder) as tmp:
        (tmp / "model.safetensors").write_bytes(_save_state(model))
        (tmp / "optimizer.safetensors").write_bytes(save(tensors))
        write_json(tmp / "state.json", {**state, "param_groups": opt["param_groups"],
                                         "torch_rng": torch.get_rng_state().tolist()})


def _load_checkpoint(folder: Path, model: Transformer,
                     optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    state = json.loads((folder / "state.json").read_text())
    model.load_state_dict(load_file(folder / "model.safetensors"))
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in load_file(folder / "optimizer.safetensors").items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": slots, "param_groups": state["param_groups"]})
    torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    return state


def _prepare_output(config: TrainConfig) -> Path | None:
    """Refuse to clobber a finished run; return the checkpoint folder to resume from, if any."""
    out = config.output
    checkpoint = out / "checkpoint"
    if config.resume:
        if not (checkpoint / "state.json").exists():
            raise UserError(f"--resume: no checkpoint in {checkpoint}; train without --resume")
        saved = json.loads((checkpoint / "state.json").read_text())["train"]
        mine = asdict(config)
        changed = [k for k in _FIXED if saved[k] != mine[k]]
        if changed:
            raise UserError(f"--resume: {out} was trained with different {changed} "
                            f"(task {saved['task']}); pass the same settings or another --output")
        return checkpoint
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise UserError(f"{out} already holds a run; pass --resume to continue it, --overwrite "
                        "to replace it, or another --output")
    return None


def train(config: TrainConfig, on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train, evaluate on the held-out split, write the run folder; returns the metrics."""
    resume_from = _prepare_output(config)
    task = Task(config.task, config.length, config.reverse_digits)
    seed_everything(config.seed)
    model_config = config.model_config(len(VOCAB), max_len_for(task))
    model = Transformer(model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)
    state: dict[str, Any] = {"step": 0, "curve": [], "window_sum": 0.0, "window_count": 0,
                             "seconds": 0.0}
    if resume_from is not None:
        state = _load_checkpoint(resume_from, model, optimizer)
    first_step = state["step"] + 1
    start = time.perf_counter()
    model.train()
    with progress_bar() as bar:
        job = bar.add_task(f"train {config.task}", total=config.steps, completed=state["step"])
        for step in range(first_step, config.steps + 1):
            lr = noam_lr(step, config.d_model, config.warmup, config.lr_factor)
            for group in optimizer.param_groups:
                group["lr"] = lr
            src, tgt_in, tgt_out = task.batch(config.seed, step, config.batch_size)
            logits = model(src, tgt_in)  # (B, T, V)
            loss = label_smoothed_loss(logits.flatten(0, 1), tgt_out.flatten(),
                                       config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            state["window_sum"] += loss.item()
            state["window_count"] += 1
            if state["window_count"] == LOG_EVERY or step == config.steps:
                state["curve"].append([step, state["window_sum"] / state["window_count"]])
                state["window_sum"], state["window_count"] = 0.0, 0
            state["step"] = step
            if on_step is not None:
                on_step(step, loss.item())
            if step % config.checkpoint_every == 0 or step == config.steps:
                state["seconds"] += time.perf_counter() - start
                start = time.perf_counter()
                _save_checkpoint(config.output / "checkpoint", model, optimizer,
                                 {**state, "train": _json_config(config)})
            bar.advance(job)
    state["seconds"] += time.perf_counter() - start
    eval_pairs = task.examples(config.seed + 7919, config.eval_size, held_out=True)
    metrics = {"task": config.task, "steps": config.steps, "final_loss": state["curve"][-1][1]
               if state["curve"] else None,
               "exact_match": exact_match(model, task, eval_pairs), "eval_size": len(eval_pairs),
               "train_seconds": round(state["seconds"], 2),
               "parameters": sum(p.numel() for p in model.parameters())}
    _write_run(config, model, model_config, task, metrics, state["curve"])
    return metrics


def _json_config(config: TrainConfig) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


def _write_run(config: TrainConfig, model: Transformer, model_config: ModelConfig, task: Task,
               metrics: dict[str, Any], curve: list[list[float]]) -> None:
    from .plots import plot_loss

    out = config.output
    with atomic_write(out / "model.safetensors", "wb") as handle:
        handle.write(_save_state(model))
    write_json(out / "config.json", {"task": asdict(task), "model": model_config.to_dict(),
                                     "train": _json_config(config)})
    write_json(out / "metrics.json", {**metrics, "loss_curve": curve})
    plot_loss(curve, out / "loss.png", f"{config.task}: {config.attention}, {config.position}")


def load_run(folder: Path) -> tuple[Transformer, Task]:
    """A run folder -> (model in eval mode, task); UserError naming what is missing."""
    config_path, weights = folder / "config.json", folder / "model.safetensors"
    if not config_path.exists() or not weights.exists():
        raise UserError(f"{folder} is not a transformer-core run (no config.json / "
                        "model.safetensors); pass the --output folder of `train`")
    try:
        saved = json.loads(config_path.read_text())
        task = Task(**saved["task"])
        model = Transformer(ModelConfig(**saved["model"]))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UserError(f"{config_path} is not a transformer-core config ({exc})") from exc
    model.load_state_dict(load_file(weights))
    return model.eval(), task
