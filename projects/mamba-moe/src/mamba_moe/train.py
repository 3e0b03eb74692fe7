"""Train a Mamba, a dense transformer or an MoE transformer on a synthetic recall task; score it.

`build(cfg)` makes the model (transformer and moe get the feed-forward width that matches the
Mamba's parameter count), `train(cfg)` runs AdamW with loss on the K target positions only and
checkpoints model + optimizer every `checkpoint_every` steps under OUTPUT/checkpoint (safetensors
+ JSON); `--resume` reloads them and runs only the remaining steps. Data for step s is drawn from
a generator seeded with (seed, s), so a resumed run sees the same batches. MoE runs add the
load-balancing and z losses and report drops and per-expert histograms (PNG).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from llm_shared import UserError, atomic_dir, progress_bar, seed_everything
from safetensors.torch import load_file, save_file

from .checkpoint import Model, load_model, save_model
from .config import TrainConfig
from .mamba import MambaConfig, MambaLM
from .mixtral import MixtralConfig, MixtralLM
from .moe import load_balancing_loss, router_z_loss
from .tasks import TaskSpec, batch


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build(cfg: TrainConfig, spec: TaskSpec) -> Model:
    V, d = spec.vocab_size, cfg.hidden_size
    mamba = MambaLM(MambaConfig(vocab_size=V, hidden_size=d, num_hidden_layers=cfg.layers,
                                   state_size=cfg.state_size))
    if cfg.arch == "mamba":
        return mamba
    E, k = (1, 1) if cfg.arch == "transformer" else (cfg.num_experts, cfg.top_k)
    base = dict(vocab_size=V, hidden_size=d, num_hidden_layers=cfg.layers,
                num_attention_heads=4, num_key_value_heads=2, num_local_experts=E,
                num_experts_per_tok=k, tie_word_embeddings=True,
                max_position_embeddings=4 * spec.total_len,
                capacity_factor=cfg.capacity_factor if E > 1 else 0.0)
    # params are linear in the expert width f: solve for the f that matches the Mamba
    p1 = n_params(MixtralLM(MixtralConfig(**base, intermediate_size=1)))
    p2 = n_params(MixtralLM(MixtralConfig(**base, intermediate_size=2)))
    f = max(1, round(1 + (n_params(mamba) - p1) / (p2 - p1)))
    return MixtralLM(MixtralConfig(**base, intermediate_size=f))


def step_loss(model: Model, inputs: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig
              ) -> tuple[torch.Tensor, dict[str, float], list[list[int]] | None]:
    """Cross-entropy on the K target positions (+ MoE aux losses); logs as floats; the
    assignments each expert served per layer (MoE only)."""
    seq = torch.cat([inputs, targets], dim=1)[:, :-1]  # (Bt, T-1): teacher forcing
    K = targets.shape[1]
    if isinstance(model, MambaLM):
        logits, _ = model(seq, scan=cfg.scan)
        stats = []
    else:
        logits, stats = model(seq)
    pred = logits[:, -K:]  # (Bt, K, V)
    ce = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), targets.reshape(-1))
    logs = {"ce": ce.item(), "token_acc": (pred.argmax(-1) == targets).float().mean().item()}
    loss = ce
    if stats and model.config.num_local_experts > 1:
        lg = [s.logits for s in stats]
        aux = load_balancing_loss(lg, model.config.num_local_experts,
                                  model.config.num_experts_per_tok)
        z = router_z_loss(lg)
        loss = ce + cfg.aux_loss_coef * aux + cfg.z_loss_coef * z
        routed = sum(s.tokens for s in stats) * model.config.num_experts_per_tok
        logs |= {"balance_loss": aux.item(), "z_loss": z.item(),
                 "dropped_assignments": sum(s.dropped_assignments for s in stats) / routed,
                 "dropped_tokens": sum(s.dropped_tokens for s in stats) /
                 sum(s.tokens for s in stats)}
        return loss, logs, [s.counts.tolist() for s in stats]
    return loss, logs, None


def length_at(step: int, cfg: TrainConfig, spec: TaskSpec) -> TaskSpec:
    """Length curriculum: L grows linearly from 8 to seq_len over the first half of the steps.

    NOTE: without it a 2-layer Mamba sat at chance (ce 2.08) for 375 steps of L = 64; at L = 8 it
    reached 0.99 in 150 steps, so short sequences first teach what to keep.
    """
    if not cfg.curriculum or spec.task != "selective-copy" or spec.seq_len <= 8:
        return spec
    frac = min(1.0, step / max(1, cfg.steps // 2))
    L = max(8, spec.num_tokens, round(8 + frac * (spec.seq_len - 8)))
    return TaskSpec(spec.task, L, spec.num_tokens, spec.vocab)


def lr_at(step: int, cfg: TrainConfig) -> float:
    warm = max(1, cfg.steps // 20)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, cfg.steps - warm)))


def _save_checkpoint(folder: Path, model: Model, opt: torch.optim.Optimizer, step: int,
                     sums: dict[str, Any]) -> None:
    state = opt.state_dict()["state"]
    tensors = {f"{i}.{name}": t for i, s in state.items() for name, t in s.items()}
    with atomic_dir(folder) as tmp:
        save_model(model, tmp / "model")
        save_file({k: v.contiguous() for k, v in tensors.items()},
                  str(tmp / "optimizer.safetensors"))
        (tmp / "progress.json").write_text(json.dumps({"step": step, "sums": sums}))


def _load_checkpoint(folder: Path, model: Model, opt: torch.optim.Optimizer
                     ) -> tuple[int, dict[str, Any]]:
    _, saved = load_model(folder / "model")
    model.load_state_dict(saved.state_dict())
    flat = load_file(str(folder / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = tensor
    sd = opt.state_dict()
    opt.load_state_dict({"state": state, "param_groups": sd["param_groups"]})
    progress = json.loads((folder / "progress.json").read_text())
    return progress["step"], progress["sums"]


@torch.no_grad()
def score(model: Model, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 256
          ) -> dict[str, Any]:
    """Greedy K tokens after each input -> predictions and token / sequence accuracy."""
    preds = []
    for i in range(0, len(inputs), batch_size):
        out, _ = model.generate(inputs[i:i + batch_size], targets.shape[1])
        preds.append(out)
    pred = torch.cat(preds)
    hit = pred == targets
    return {"prediction": pred, "token_accuracy": round(hit.float().mean().item(), 4),
            "sequence_accuracy": round(hit.all(-1).float().mean().item(), 4)}


def train(cfg: TrainConfig, log=print) -> dict[str, Any]:
    spec = TaskSpec(cfg.task, cfg.seq_len, cfg.num_tokens, cfg.vocab)
    try:
        spec.check()
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    out = Path(cfg.output)
    ckpt = out / "checkpoint"
    if out.exists() and not cfg.resume and not cfg.overwrite:
        raise UserError(f"{out} exists; pass --resume to continue it or --overwrite to replace it")
    if cfg.resume and not (ckpt / "progress.json").is_file():
        raise UserError(f"--resume: {ckpt} holds no checkpoint; drop --resume to start fresh")
    if cfg.overwrite and not cfg.resume and out.exists():
        shutil.rmtree(out)
    seed_everything(cfg.seed)
    model = build(cfg, spec)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    start, sums = (_load_checkpoint(ckpt, model, opt) if cfg.resume else (0, {}))
    model.train()
    began, steps_run, window = time.perf_counter(), 0, {}
    with progress_bar() as bar:
        task = bar.add_task(f"train {cfg.arch} on {cfg.task}", total=cfg.steps, completed=start)
        for step in range(start, cfg.steps):
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            inputs, targets = batch(length_at(step, cfg, spec), cfg.batch_size, gen)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            loss, logs, counts = step_loss(model, inputs, targets, cfg)
            if counts is not None:  # running per-expert load over the whole run
                served = sums.setdefault("served", [[0] * len(c) for c in counts])
                sums["served"] = [[a + b for a, b in zip(r, c, strict=True)]
                                  for r, c in zip(served, counts, strict=True)]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            steps_run += 1
            # running sums over the last checkpoint window, never a per-step list
            for k, v in logs.items():
                window[k] = window.get(k, 0.0) + v
            window["n"] = window.get("n", 0.0) + 1
            bar.update(task, advance=1, description=f"{cfg.arch} ce {logs['ce']:.3f}")
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                n = window.pop("n")
                log(f"step {step + 1}: " + ", ".join(f"{k} {v / n:.4f}"
                                                     for k, v in window.items()))
                window = {}
                _save_checkpoint(ckpt, model, opt, step + 1, sums)
    model.eval()
    gen = torch.Generator().manual_seed(10_000_019 + cfg.seed)  # held-out: never a train seed
    inputs, targets = batch(spec, cfg.eval_examples, gen)
    result = score(model, inputs, targets)
    summary = {"arch": cfg.arch, "task": cfg.task, "params": n_params(model),
               "steps": cfg.steps, "steps_run": steps_run,
               "token_accuracy": result["token_accuracy"],
               "sequence_accuracy": result["sequence_accuracy"],
               "train_seconds": round(time.perf_counter() - began, 1)}
    if isinstance(model, MixtralLM) and model.config.num_local_experts > 1:
        summary |= routing_report(model, inputs, targets)
        summary["train_expert_counts"] = sums.get("served")
    task_info = {"task": cfg.task, "seq_len": cfg.seq_len, "num_tokens": cfg.num_tokens,
                 "vocab": cfg.vocab, "arch": cfg.arch}
    if "expert_counts" in summary:
        from .plots import expert_histograms

        summary["histogram"] = str(expert_histograms(summary["expert_counts"],
                                                     out / "experts.png"))
    save_model(model, out, {"task.json": task_info, "train_summary.json": summary})
    return summary


def routing_report(model: MixtralLM, inputs: torch.Tensor, targets: torch.Tensor
                   ) -> dict[str, Any]:
    """Route held-out sequences once (training-time capacity on) and plot the expert loads."""
    with torch.no_grad():
        _, stats = model(torch.cat([inputs, targets], dim=1)[:, :-1])
    lg = [s.logits for s in stats]
    cfg = model.config
    counts = [s.counts.tolist() for s in stats]
    return {"balance_loss": round(load_balancing_loss(lg, cfg.num_local_experts,
                                                      cfg.num_experts_per_tok).item(), 4),
            "z_loss": round(router_z_loss(lg).item(), 4),
            "dropped_token_fraction": round(sum(s.dropped_tokens for s in stats) /
                                            sum(s.tokens for s in stats), 4),
            "dropped_assignment_fraction": round(
                sum(s.dropped_assignments for s in stats) /
                (sum(s.tokens for s in stats) * cfg.num_experts_per_tok), 4),
            "expert_counts": counts}


def load_for_eval(folder: Path) -> tuple[Model, dict | None]:
    _, model = load_model(folder)
    info = folder / "task.json"
    return model, (json.loads(info.read_text()) if info.is_file() else None)

