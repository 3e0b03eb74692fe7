"""Memory and speed of full fine-tuning vs LoRA vs QLoRA, and of our LoRA vs peft's.

Each method runs in a fresh subprocess, so its memory is its own: we report the exact bytes of
training state (weights + buffers + gradients + AdamW moments, counted from the tensors) and the
process's peak resident memory during the timed steps (Linux VmHWM, reset after loading; on CUDA,
`max_memory_allocated`). Ours vs peft LoRA runs in one process on the same batch and config,
alternating steps, median (`llm_shared.compare`). The batch is random token ids with every
position labelled: a fixed, reproducible load. Leaves out multi-GPU and long-context runs.
Run: `uv run qlora-tuner bench` or `uv run python bench/bench_methods.py --json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, compare, load_causal_lm, markdown_table, seed_everything

from .config import DEFAULT_TARGETS, TrainConfig
from .train import prepare_model

# A bound far above one method's run at the defaults: past it the child hung, and the bench stops
# with a one-line error instead of waiting forever.
METHOD_TIMEOUT_S = 1800

RANK, ALPHA = 8, 16.0


def _batch(vocab: int, batch_size: int, seq_len: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (batch_size, seq_len), generator=g).to(device)  # (B, T)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}


def _step_fn(model: torch.nn.Module, batch: dict) -> Any:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)

    def step() -> None:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, optimizer


def _state_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    total = sum(t.numel() * t.element_size() for t in tensors)
    total += sum(p.grad.numel() * p.grad.element_size() for p in model.parameters()
                 if p.grad is not None)
    for state in optimizer.state.values():
        total += sum(v.numel() * v.element_size() for v in state.values()
                     if isinstance(v, torch.Tensor))
    return total


def _reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    # Linux: writing 5 resets VmHWM, the peak resident set, to the current size.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    from llm_shared import peak_rss_mb

    return peak_rss_mb()


def measure_method(method: str, model_name: str, steps: int, batch_size: int,
                   seq_len: int) -> dict[str, Any]:
    """One method in this process: peak memory and median step time."""
    seed_everything(0)
    model, _ = load_causal_lm(model_name)
    config = TrainConfig(method=method, model=model_name, rank=RANK, alpha=ALPHA, dropout=0.0,
                         target_modules=list(DEFAULT_TARGETS), double_quant=True)
    info = prepare_model(model, config)
    model.train()
    batch = _batch(model.config.vocab_size, batch_size, seq_len, next(model.parameters()).device)
    step, optimizer = _step_fn(model, batch)
    step()  # warm-up; also creates the AdamW moments
    _reset_peak()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"method": method, "trainable_fraction": round(info["trainable_fraction"], 6),
            "state_mb": round(_state_bytes(model, optimizer) / 2**20, 1),
            "peak_mb": round(_peak_mb(), 1), "step_s": round(statistics.median(times), 3)}


def ours_vs_peft(model_name: str, repeats: int, batch_size: int, seq_len: int) -> dict[str, Any]:
    """Step time of our LoRA vs peft's LoRA, same base, config, batch and optimizer."""
    try:
        import peft
    except ImportError as exc:
        raise UserError("the bench compares with peft, a dev dependency: run "
                        "`uv sync --package qlora-tuner` (the dev group is included)") from exc

    seed_everything(0)
    ours, _ = load_causal_lm(model_name)
    prepare_model(ours, TrainConfig(method="lora", model=model_name, rank=RANK, alpha=ALPHA,
                                    dropout=0.0, target_modules=list(DEFAULT_TARGETS)))
    base, _ = load_causal_lm(model_name)
    theirs = peft.get_peft_model(base, peft.LoraConfig(
        r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=list(DEFAULT_TARGETS)))
    for m in (ours, theirs):
        m.train()
    batch = _batch(ours.config.vocab_size, batch_size, seq_len, next(ours.parameters()).device)
    step_ours, _ = _step_fn(ours, batch)
    step_peft, _ = _step_fn(theirs, batch)
    result = compare(step_ours, step_peft, repeats=repeats, names=("ours", "peft"))
    return result.summary()


def run_bench(model_name: str, steps: int, repeats: int, batch_size: int, seq_len: int,
              quiet: bool = False) -> dict[str, Any]:
    rows = []
    for method in ("full", "lora", "qlora"):
        cmd = [sys.executable, "-m", "qlora_tuner.benchmark", "--one", method, "--model",
               model_name, "--steps", str(steps), "--batch-size", str(batch_size),
               "--seq-len", str(seq_len)]
        env = {**os.environ, "LLM_FULLSTACK_NO_PROGRESS": "1"}
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                                 timeout=METHOD_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise UserError(f"bench of {method} took over {METHOD_TIMEOUT_S} s and was stopped; "
                            "lower --steps, --batch-size or --seq-len") from exc
        if out.returncode != 0:
            raise RuntimeError(f"bench of {method} failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    peer = ours_vs_peft(model_name, repeats, batch_size, seq_len)
    device = "cuda" if torch.cuda.is_available() else f"cpu x{os.cpu_count()}"
    if not quiet:
        print(f"{model_name}, batch {batch_size} x {seq_len} tokens, r={RANK}, all 7 projection "
              f"kinds, AdamW, {device}")
        print(markdown_table(rows))
        print(f"\nours vs peft LoRA step: {peer['ours_s']:.3f} s vs {peer['peft_s']:.3f} s "
              f"(peft/ours = {peer['ours_vs_peft']:.3f}; goal: ours within 1.2x, i.e. >= 0.833)")
    return {"model": model_name, "device": device, "batch_size": batch_size, "seq_len": seq_len,
            "methods": rows, **peer, "within_1_2x": peer["ours_vs_peft"] >= 1 / 1.2}


def _main() -> None:
    parser = argparse.ArgumentParser(description="one method of the bench (used by run_bench)")
    parser.add_argument("--one", required=True, choices=("full", "lora", "qlora"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(measure_method(args.one, args.model, args.steps, args.batch_size,
                                    args.seq_len)))


if __name__ == "__main__":
    _main()
