"""The chapter demo: a short QLoRA run that teaches SmolLM2-135M-Instruct the "name card" format.

Generates the embedded task (train + held-out with unseen names), quantises the model's linear
layers to NF4, puts rank-8 LoRA adapters on the upper blocks, scores held-out exact match, trains a
few dozen AdamW steps on the assistant tokens only, and scores again. Prints the loss curve and a
few answers before -> after; the last stdout line is JSON with accuracy_before, accuracy_after and
trainable_fraction. Leaves out saving the adapter (use `qlora-tuner train`).
Run: `uv run qlora-tuner demo` (under 90 s on 2 CPU cores).
"""

from __future__ import annotations

import time
from typing import Any

from llm_shared import load_causal_lm

from .config import DemoConfig, TrainConfig
from .data import encode_all
from .evaluate import exact_match
from .task import make_task
from .train import Trainer

MAX_NEW_TOKENS = 16  # the longest name card is 10 tokens plus <|im_end|>


def run_demo(config: DemoConfig, log: Any = None) -> dict[str, Any]:
    start = time.perf_counter()
    log = log or (lambda text: print(text, flush=True))
    train_records, held_records = make_task(config.train_size, config.eval_size, config.seed)
    train_conv = [r["messages"] for r in train_records]
    held_conv = [r["messages"] for r in held_records]
    model, tokenizer = load_causal_lm(config.model, device=config.device)
    n_layers = model.config.num_hidden_layers
    layers = None if config.layers_from <= 0 else list(range(min(config.layers_from, n_layers - 1),
                                                             n_layers))
    train_config = TrainConfig(
        method="qlora", model=config.model, rank=config.rank, alpha=2.0 * config.rank,
        dropout=0.0, layers=layers, lr=config.lr, steps=config.steps,
        batch_size=config.batch_size, warmup_steps=max(1, config.steps // 8), seed=config.seed,
        max_length=128, eval_fraction=0.0, device=config.device)
    train_data, _ = encode_all(tokenizer, train_conv, train_config.max_length)
    held_data, _ = encode_all(tokenizer, held_conv, train_config.max_length)
    trainer = Trainer(train_config, model, tokenizer, train_data, held_data)
    info = trainer.info
    log(f"QLoRA on {config.model}: {info['quantized']} linear layers -> NF4 (block 64, double "
        f"quant), LoRA r={config.rank} on {info['adapted']} of them (blocks "
        f"{layers[0] if layers else 0}-{n_layers - 1}); trainable {info['trainable']:,} of "
        f"{info['total']:,} = {info['trainable_fraction']:.3%}")
    before = exact_match(model, tokenizer, held_conv, batch_size=config.eval_size,
                         max_new_tokens=MAX_NEW_TOKENS)
    log(f"held-out exact match before: {before.correct}/{before.total}")

    def show(_trainer: Trainer, record: dict[str, Any]) -> None:
        if record["step"] % 4 == 0 or record["step"] == 1:
            log(f"  step {record['step']:3d}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
                f"{record['tok_per_s']:.0f} tok/s")

    result = trainer.run(on_step=show)
    after = exact_match(model, tokenizer, held_conv, batch_size=config.eval_size,
                        max_new_tokens=MAX_NEW_TOKENS)
    log(f"held-out answer loss {result.eval_loss_before:.3f} -> {result.eval_loss_after:.3f}; "
        f"exact match {before.correct}/{before.total} -> {after.correct}/{after.total}")
    for (b, ref), (a, _) in list(zip(before.predictions, after.predictions, strict=True))[:3]:
        log(f"  want {ref!r}\n    before {b!r}\n    after  {a!r}")
    return {"accuracy_before": round(before.accuracy, 4),
            "accuracy_after": round(after.accuracy, 4),
            "trainable_fraction": round(info["trainable_fraction"], 6),
            "eval_loss_before": round(result.eval_loss_before, 4),
            "eval_loss_after": round(result.eval_loss_after, 4), "steps": config.steps,
            "held_out": before.total, "seconds": round(time.perf_counter() - start, 1)}
