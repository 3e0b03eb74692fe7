"""Supervised fine-tuning loop: full, LoRA or QLoRA on chat data with an assistant-only loss.

`prepare_model` loads the base, quantises it to NF4 (qlora), wraps the target layers in LoRA
(lora/qlora) or leaves every weight trainable (full). `train` runs AdamW with warm-up + cosine or
linear decay, gradient accumulation (the loss is a sum over the step's answer tokens divided by
their count, so accumulating k micro-batches equals one batch k times larger), gradient clipping,
optional gradient checkpointing, a held-out eval loss, checkpoints every N steps and `--resume`.
The loss computes the vocabulary projection only at answer positions (most positions are masked),
which saves the largest matmul of a small model. Leaves out multi-GPU and sequence packing.
Run: `uv run qlora-tuner train --data task.jsonl --output runs/x --method qlora`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from llm_shared import (
    UserError,
    atomic_dir,
    load_causal_lm,
    progress_bar,
    seed_everything,
    write_json,
)
from torch import nn

from .adapter_io import save_adapter
from .checkpoint import Cursor, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import (
    IGNORE_INDEX,
    Encoded,
    collate,
    encode_all,
    epoch_batches,
    load_conversations,
    split_eval,
)
from .lora import inject_lora, quantize_model, trainable_parameters


def prepare_model(model: nn.Module, config: TrainConfig) -> dict[str, Any]:
    """Turn a loaded base model into the trainable one for `config.method`, in place."""
    info: dict[str, Any] = {"method": config.method}
    dtype = next(model.parameters()).dtype
    if config.method == "qlora":
        info["quantized"] = len(quantize_model(model, config.blocksize, config.double_quant, dtype))
    if config.method in ("lora", "qlora"):
        targets = config.target_modules
        if len(targets) == 1 and (targets[0] == "all-linear" or not targets[0].isidentifier()):
            targets = targets[0]  # one regex (or all-linear) rather than a list of names
        info["adapted"] = len(inject_lora(model, targets, config.rank, config.alpha,
                                          config.dropout, config.rslora, config.layers))
        info["target_modules"] = targets
    else:
        model.requires_grad_(True)
    if config.grad_checkpointing:
        # Non-reentrant checkpointing works with frozen inputs (no enable_input_require_grads).
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False
    trainable, total = trainable_parameters(model)
    info.update(trainable=trainable, total=total, trainable_fraction=trainable / total)
    return info


def causal_lm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(sum of token cross-entropies over answer positions, number of those positions).

    Same value as transformers' shifted loss times its token count (tested), but the output
    projection runs only where a label exists: (N, C) @ (C, V) instead of (B*T, C) @ (C, V).
    """
    decoder = model.get_decoder()
    hidden = decoder(input_ids=batch["input_ids"],
                     attention_mask=batch["attention_mask"]).last_hidden_state  # (B, T, C)
    targets = batch["labels"][:, 1:]  # (B, T-1): token t+1 is predicted at position t
    keep = targets != IGNORE_INDEX  # (B, T-1)
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])  # (N, V)
    loss = F.cross_entropy(logits.float(), targets[keep], reduction="sum")
    return loss, int(keep.sum())


def lr_lambda(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    """Multiplier of the peak lr at step s: linear warm-up, then cosine/linear decay to 0.
    Example: warmup 2, total 6, linear -> s=0: 0.0, 1: 0.5, 2: 1.0, 4: 0.5, 6: 0.0."""

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@torch.no_grad()
def eval_loss(model: nn.Module, examples: list[Encoded], batch_size: int, pad_id: int,
              device: torch.device) -> float:
    """Mean answer-token cross-entropy over `examples` (nan when there are none)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in
                 collate(examples[start:start + batch_size], pad_id).items()}
        loss, n = causal_lm_loss(model, batch)
        total, count = total + float(loss), count + n
    model.train(was_training)
    return total / count if count else float("nan")


@dataclass
class TrainResult:
    output: Path
    info: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    eval_loss_before: float = float("nan")
    eval_loss_after: float = float("nan")
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {"method": self.info["method"], "steps": last.get("step", 0),
                "train_loss": last.get("loss"), "eval_loss_before": round(self.eval_loss_before, 4),
                "eval_loss_after": round(self.eval_loss_after, 4),
                "trainable_fraction": round(self.info["trainable_fraction"], 6),
                "seconds": round(self.seconds, 1), "output": str(self.output)}


class Trainer:
    """Holds the model, data and optimizer of one run; `run()` trains to `config.steps`."""

    def __init__(self, config: TrainConfig, model: nn.Module | None = None,
                 tokenizer: Any = None, train_data: list[Encoded] | None = None,
                 eval_data: list[Encoded] | None = None) -> None:
        self.config = config
        seed_everything(config.seed)
        if model is None:
            model, tokenizer = load_causal_lm(config.model, device=config.device,
                                              dtype=config.dtype)
        self.model, self.tokenizer = model, tokenizer
        self.device = next(model.parameters()).device
        self.info = prepare_model(model, config)
        if train_data is None:
            if config.data is None:
                raise UserError("--data is required: a JSONL of chat, Alpaca or ShareGPT examples")
            encoded, dropped = encode_all(tokenizer, load_conversations(config.data),
                                          config.max_length)
            if not encoded:
                raise UserError(f"no example keeps an answer token within --max-length "
                                f"{config.max_length}; raise it")
            self.info["dropped_too_long"] = dropped
            train_data, eval_data = split_eval(encoded, config.eval_fraction, config.seed)
        self.train_data, self.eval_data = train_data, eval_data or []
        self.pad_id = tokenizer.pad_token_id
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(config.schedule, config.warmup_steps, config.steps))
        self.cursor = Cursor()
        self.history: list[dict[str, Any]] = []
        self.lengths = [len(e.input_ids) for e in self.train_data]

    def _next_batch(self) -> dict[str, torch.Tensor]:
        batches = epoch_batches(self.lengths, self.config.batch_size, self.config.seed,
                                self.cursor.epoch, self.config.group_by_length)
        if self.cursor.batch >= len(batches):
            self.cursor.epoch, self.cursor.batch = self.cursor.epoch + 1, 0
            return self._next_batch()
        chosen = [self.train_data[i] for i in batches[self.cursor.batch]]
        self.cursor.batch += 1
        return {k: v.to(self.device) for k, v in collate(chosen, self.pad_id).items()}

    def train_step(self) -> dict[str, Any]:
        """One optimizer step over `grad_accum` micro-batches; returns its log record."""
        start = time.perf_counter()
        self.model.train()
        micro = [self._next_batch() for _ in range(self.config.grad_accum)]
        # Normalise by the answer tokens of the whole step, so accumulation == a bigger batch.
        n_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
        total = 0.0
        for batch in micro:
            loss_sum, _ = causal_lm_loss(self.model, batch)
            (loss_sum / n_tokens).backward()
            total += loss_sum.item()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.cursor.step += 1
        seconds = time.perf_counter() - start
        seen = sum(int(b["attention_mask"].sum()) for b in micro)
        return {"step": self.cursor.step, "loss": round(total / n_tokens, 4), "lr": lr,
                "tok_per_s": round(seen / seconds, 1), "seconds": round(seconds, 3)}

    def evaluate(self) -> float:
        return eval_loss(self.model, self.eval_data, self.config.batch_size, self.pad_id,
                         self.device)

    def resume(self) -> bool:
        found = latest_checkpoint(self.config.output)
        if found is None:
            return False
        self.cursor, self.history = load_checkpoint(found, self.model, self.optimizer,
                                                    self.scheduler)
        return True

    def save_checkpoint(self) -> Path:
        return save_checkpoint(self.config.output, self.model, self.optimizer, self.scheduler,
                               self.cursor, self.history)

    def run(self, on_step: Callable[[Trainer, dict[str, Any]], None] | None = None) -> TrainResult:
        config, start = self.config, time.perf_counter()
        if config.resume and not self.resume():
            raise UserError(f"--resume given but {config.output}/checkpoints holds no checkpoint; "
                            "drop --resume to start fresh")
        result = TrainResult(config.output, self.info)
        result.eval_loss_before = self.history[0]["eval_loss_before"] if self.history else \
            self.evaluate()
        with progress_bar() as bar:
            task = bar.add_task(f"{config.method} steps", total=config.steps,
                                completed=self.cursor.step)
            while self.cursor.step < config.steps:
                record = self.train_step()
                if config.eval_every and self.cursor.step % config.eval_every == 0:
                    record["eval_loss"] = round(self.evaluate(), 4)
                if not self.history:
                    record["eval_loss_before"] = result.eval_loss_before
                self.history.append(record)
                if config.save_every and self.cursor.step % config.save_every == 0:
                    self.save_checkpoint()
                bar.advance(task)
                if on_step is not None:
                    on_step(self, record)
        result.history = self.history
        result.eval_loss_after = self.evaluate()
        result.seconds = time.perf_counter() - start
        return result

    def save_outputs(self, result: TrainResult) -> dict[str, Any]:
        """adapter/ (lora, qlora) or model/ (full), plus metrics.json; returns the summary."""
        config = self.config
        if config.method == "full":
            with atomic_dir(config.output / "model") as tmp:
                self.model.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)
        else:
            save_adapter(self.model, config.output / "adapter", base_model=config.model,
                         target_modules=self.info["target_modules"], layers=config.layers,
                         method=config.method, blocksize=config.blocksize,
                         double_quant=config.double_quant)
        summary = result.summary()
        write_json(config.output / "metrics.json",
                   {"summary": summary, "config": {k: str(v) for k, v in asdict(config).items()},
                    "info": self.info, "history": result.history})
        return summary


def train(config: TrainConfig) -> dict[str, Any]:
    """Library entry of `qlora-tuner train`: run and write the outputs; returns the summary."""
    trainer = Trainer(config)
    result = trainer.run()
    return trainer.save_outputs(result)
