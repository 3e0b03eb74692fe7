"""Benchmark: tokens/s and accepted tokens per target forward, ours vs Hugging Face generate.

Methods (same prompts, same max tokens, greedy, one process, interleaved per prompt so machine
noise hits all of them alike, the order reversed every other repeat, the median of `repeats` per
prompt: `llm_shared.compare`'s scheme, generalised from two callables to all the methods):
- ours: greedy (the same KV-cache verifier with one-node trees), ngram, draft, medusa, hybrid,
  all on one engine in one dtype (float32 by default; `--dtype bfloat16` or `auto`);
- HF (the same model object, so the same dtype): `generate(do_sample=False)`, with
  `prompt_lookup_num_tokens=k`, and with
  `assistant_model=` our draft (the same early-layer model, so the comparison is of the loops).
Accepted tokens per forward = (tokens - 1) / (target forwards - 1) for every method: the prefill
forward yields the first token. HF's forwards are counted with a hook on the target.
Each row also says whether the tokens equal our plain greedy's (they must, for ours, in float32
and in bf16 alike: the lean engine is batch invariant; HF's bf16 rows may differ).
Everything is warmed up (engines built, cost table measured, one short run each) before timing.
Used by `medusa-decoder bench` and bench/bench_decoding.py. Leaves out batch > 1.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from llm_shared import markdown_table, torch_threads, track

from .config import METHODS, BenchConfig, DecodeConfig
from .lean import batch_invariance_check
from .methods import Decoder
from .prompts import prompts as corpus_prompts

OURS = METHODS
HF = ("hf_greedy", "hf_prompt_lookup", "hf_assisted")


class ForwardCounter:
    """Counts forward calls of a module while active (HF generate's target forwards)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.calls, self.handle = module, 0, None

    def __enter__(self) -> ForwardCounter:
        self.calls = 0
        self.handle = self.module.register_forward_hook(self._bump)
        return self

    def _bump(self, module: torch.nn.Module, *_: Any) -> None:
        # The self-speculative draft is a shallow copy sharing the hook table: count only ours.
        if module is self.module:
            self.calls += 1

    def __exit__(self, *exc: Any) -> None:
        self.handle.remove()


def _hf_run(decoder: Decoder, method: str, prompt: list[int], max_tokens: int,
            k: int) -> tuple[list[int], int]:
    model = decoder.model
    ids = torch.tensor([prompt], device=next(model.parameters()).device)
    kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": False,
                              "attention_mask": torch.ones_like(ids),
                              "pad_token_id": decoder.tokenizer.pad_token_id}
    if method == "hf_prompt_lookup":
        kwargs["prompt_lookup_num_tokens"] = k
    elif method == "hf_assisted":
        kwargs["assistant_model"] = decoder.draft
    with ForwardCounter(model) as counter, torch.inference_mode():
        out = model.generate(ids, **kwargs)
    return out[0, len(prompt):].tolist(), counter.calls


def run_bench(config: BenchConfig, decoder: Decoder | None = None) -> dict[str, Any]:
    torch_threads(config.threads)
    decoder = decoder or Decoder(DecodeConfig(
        model=config.model, heads=config.heads, tree_size=config.tree_size, k=config.k,
        max_tokens=config.max_tokens, device=config.device, dtype=config.dtype,
        engine=config.engine, ngram_branches=config.ngram_branches, min_ngram=config.min_ngram,
        ngram_adaptive=config.ngram_adaptive, ngram_scale=config.ngram_scale))
    methods = list(config.methods)
    rows, summary = [], {}
    # Warm-up outside the timings: builds the lean engine, heads, draft and the auto tree's cost
    # calibration, and runs every method once on a short prompt.
    warm = corpus_prompts(decoder.tokenizer, "chat", 1, "train")[0]
    for m in methods:
        if m in OURS:
            decoder.generate(warm, m, max_tokens=4)
        else:
            _hf_run(decoder, m, warm, 4, config.k)
    for kind in ("chat", "docs"):
        prompt_list = corpus_prompts(decoder.tokenizer, kind, config.prompts, "eval")
        seconds = {m: 0.0 for m in methods}
        tokens = {m: 0 for m in methods}
        steps = {m: [0, 0] for m in methods}  # [tokens - 1, forwards - 1] summed over prompts
        same = {m: True for m in methods}
        for prompt in track(prompt_list, f"{kind} prompts x {len(methods)} methods"):
            times: dict[str, list[float]] = {m: [] for m in methods}
            outs: dict[str, list[int]] = {}
            for r in range(config.repeats):
                order = methods if r % 2 == 0 else methods[::-1]
                for m in order:
                    start = time.perf_counter()
                    if m in OURS:
                        res = decoder.generate(prompt, m, max_tokens=config.max_tokens)
                        out, fwd = res.tokens, res.forwards
                    else:
                        out, fwd = _hf_run(decoder, m, prompt, config.max_tokens, config.k)
                    times[m].append(time.perf_counter() - start)
                    if r == 0:
                        outs[m] = out
                        tokens[m] += len(out)
                        steps[m][0] += len(out) - 1
                        steps[m][1] += fwd - 1
            reference = outs.get("greedy", outs.get("hf_greedy"))
            for m in methods:
                seconds[m] += statistics.median(times[m])
                same[m] &= reference is None or outs[m] == reference
        base = tokens["greedy"] / seconds["greedy"] if "greedy" in methods else None
        for m in methods:
            tps = tokens[m] / seconds[m]
            row = {"prompts": kind, "method": m, "tokens": tokens[m],
                   "tokens_per_s": round(tps, 2),
                   "accepted_per_forward": round(steps[m][0] / max(steps[m][1], 1), 3),
                   "speedup_vs_greedy": round(tps / base, 3) if base else None,
                   "same_as_greedy": same[m]}
            rows.append(row)
            summary[f"{kind}/{m}"] = {k: row[k] for k in ("tokens_per_s", "accepted_per_forward",
                                                          "speedup_vs_greedy", "same_as_greedy")}
    dtype = str(decoder.dtype).replace("torch.", "")
    print(f"dtype {dtype}, engine {config.engine}, {torch.get_num_threads()} torch thread(s), "
          f"{config.prompts} prompt(s) per kind x {config.max_tokens} tokens, "
          f"median of {config.repeats}")
    invariant = None
    if config.engine == "lean":
        invariant = batch_invariance_check(decoder.engine)
        print(f"batch invariant (a token's bits equal in a one-token step and in chain/tree "
              f"verifies): {'yes' if invariant else 'NO: exact only up to rounding here'}")
    print(markdown_table(rows))
    result: dict[str, Any] = {"tokens_per_s": {k: v["tokens_per_s"] for k, v in summary.items()},
                              "results": summary, "dtype": dtype, "engine": config.engine,
                              "threads": torch.get_num_threads(),
                              "max_tokens": config.max_tokens, "prompts_per_kind": config.prompts,
                              "batch_invariant": invariant}
    if config.tree_size == 0 and any(m in ("medusa", "hybrid") for m in methods):
        cost = {t: round(c, 2) for t, c in decoder.verify_cost().items()}
        print(f"dynamic Medusa trees; measured verify cost by node count (x one-token "
              f"forward): {cost}")
        result["verify_cost"] = cost
    result.update(goal_summary(rows))
    for line in goal_lines(result):
        print(line)
    return result


def goal_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue #8's figures: the best of our speculative methods per prompt kind, its speedup over
    our plain greedy, and its tokens/s over each HF peer's on the same prompts."""
    out: dict[str, Any] = {"best_per_kind": {}}
    by = {(r["prompts"], r["method"]): r for r in rows}
    for kind in ("chat", "docs"):
        ours = [r for r in rows if r["prompts"] == kind and r["method"] in OURS
                and r["method"] != "greedy" and r["speedup_vs_greedy"] is not None]
        if not ours:
            continue
        best = max(ours, key=lambda r: r["tokens_per_s"])
        entry = {"method": best["method"], "speedup_vs_greedy": best["speedup_vs_greedy"]}
        for peer in HF:
            if (kind, peer) in by and by[(kind, peer)]["tokens_per_s"] > 0:
                entry[f"vs_{peer}"] = round(best["tokens_per_s"]
                                            / by[(kind, peer)]["tokens_per_s"], 3)
        out["best_per_kind"][kind] = entry
    if out["best_per_kind"]:
        kind, entry = max(out["best_per_kind"].items(), key=lambda kv: kv[1]["speedup_vs_greedy"])
        out["best"] = {"prompts": kind, **entry}
    return out


def goal_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for kind, e in result.get("best_per_kind", {}).items():
        peers = ", ".join(f"{k[3:]} {v}x" for k, v in e.items() if k.startswith("vs_"))
        lines.append(f"{kind}: best {e['method']} {e['speedup_vs_greedy']}x our greedy"
                     + (f"; vs {peers}" if peers else ""))
    return lines
