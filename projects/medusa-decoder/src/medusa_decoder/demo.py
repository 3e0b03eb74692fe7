"""The chapter demo: every method on a chat prompt and a Python-docs prompt, accepted lengths and
speedups, and a check that each method's tokens equal plain greedy's.

Run: `uv run medusa-decoder demo` (under 90 s on 2 CPU cores). Heads: the packaged file for the
embedded model; for any other model (or a missing file) tiny heads are trained first, in the
cache dir. Last stdout line: {"accepted_length": {method: ...}, "speedup": {method: ...}, ...}.
Leaves out sampling (see `generate --temperature`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import cache_dir, load_causal_lm, pick_device, torch_threads

from .config import METHODS as OURS_METHODS
from .config import DecodeConfig, DemoConfig, TrainHeadsConfig
from .lean import resolve_dtype
from .methods import Decoder, default_heads_path
from .prompts import chat_prompts, docs_prompts


def _quick_heads(model_name: str, model: Any, tokenizer: Any) -> Path:
    from .train import train_heads

    out = cache_dir() / "medusa-decoder" / "demo-heads" / model_name.replace("/", "_")
    path = out / "heads.safetensors"
    if not path.is_file():
        print(f"no packaged heads for {model_name}: training tiny ones in {out}")
        train_heads(TrainHeadsConfig(model=model_name, output=str(out), num_prompts=4,
                                     gen_tokens=16, steps=30, batch_size=64, draft_layers=1),
                    model, tokenizer)
    return path


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    torch_threads(config.threads)
    dtype = resolve_dtype(config.dtype, pick_device(config.device))
    model, tokenizer = load_causal_lm(config.model, device=config.device, dtype=dtype)
    print(f"target {config.model} in {str(dtype).replace('torch.', '')}, "
          f"{torch.get_num_threads()} torch thread(s)")
    heads = config.heads or default_heads_path(config.model) or _quick_heads(config.model, model,
                                                                             tokenizer)
    decoder = Decoder(DecodeConfig(model=config.model, heads=str(heads),
                                   max_tokens=config.max_tokens, device=config.device),
                      model, tokenizer)
    prompts = (chat_prompts(tokenizer, config.prompts, "eval")
               + docs_prompts(tokenizer, config.prompts, "eval"))
    for m in OURS_METHODS:  # warm-up: builds engines, heads and the cost table untimed
        decoder.generate(prompts[0], m, max_tokens=2)
    totals = {m: [0, 0.0, 0, 0] for m in OURS_METHODS}  # tokens, seconds, emitted-1, forwards-1
    identical = {m: True for m in OURS_METHODS}
    for i, prompt in enumerate(prompts):
        reference = None
        for m in OURS_METHODS:
            res = decoder.generate(prompt, m)
            reference = res.tokens if reference is None else reference
            identical[m] &= res.tokens == reference
            t = totals[m]
            t[0] += len(res.tokens)
            t[1] += res.seconds
            t[2] += len(res.tokens) - 1
            t[3] += res.forwards - 1
            if m == "greedy":
                text = tokenizer.decode(prompt[-40:]) + "▶" + tokenizer.decode(res.tokens)
                print(f"--- prompt {i + 1} ({'chat' if i < config.prompts else 'docs'}) ---")
                print(text.strip()[-400:])
            print(f"  {m:7s} {res.mean_accepted:5.2f} tokens/forward "
                  f"{res.tokens_per_second:6.1f} tok/s  same as greedy: {res.tokens == reference}")
    base = totals["greedy"][0] / totals["greedy"][1]
    accepted = {m: round(t[2] / max(t[3], 1), 3) for m, t in totals.items()}
    speedup = {m: round(t[0] / t[1] / base, 3) for m, t in totals.items()}
    print("\nmethod   tokens/forward  speedup vs greedy (same KV-cache code)")
    for m in OURS_METHODS:
        print(f"{m:8s} {accepted[m]:14.2f}  {speedup[m]:.2f}x")
    return {"accepted_length": accepted, "speedup": speedup, "identical_to_greedy": identical,
            "prompts": len(prompts), "max_tokens": config.max_tokens,
            "seconds": round(time.perf_counter() - start, 1)}
