"""Offline throughput: the engine against HF `generate` (sequential and padded batches).

Same model weights, same greedy decoding, same max_tokens, EOS ends a sequence in all three; the
figure is generated tokens per second. Also reports how many outputs are token-identical to the
sequential HF run, and the KV memory utilisation (live tokens / reserved slots) of the paged cache
against a contiguous cache that reserves prompt + max_tokens per sequence. The optional peer
llama.cpp (`llama-cpp-python` on the embedded GGUF) runs when it is installed.
Run: `paged-kv-server bench --json` or `python bench/bench_offline.py`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from llm_shared import load_causal_lm, markdown_table, model_path

from .config import EngineConfig
from .engine import LLMEngine
from .hf_baseline import hf_generate_padded, hf_generate_sequential
from .sampling_params import SamplingParams
from .workload import mixed_prompt_ids


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _llama_cpp(prompts: list[list[int]], max_tokens: int) -> dict[str, Any] | None:
    """Sequential llama.cpp on the Q4_1 GGUF the embedded model comes from, if installed."""
    try:
        from llama_cpp import Llama  # optional peer; the workspace excludes it (14-min compile)
    except ImportError:
        return None
    from llm_shared import smollm2_gguf_path

    llm = Llama(model_path=str(smollm2_gguf_path()), n_ctx=4096, verbose=False)
    start = time.perf_counter()
    tokens = 0
    for ids in prompts:
        out = llm.create_completion(ids, max_tokens=max_tokens, temperature=0.0)
        tokens += out["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - start, "tokens": tokens}


def run_offline_bench(config: EngineConfig, num_prompts: int = 64, max_tokens: int = 64,
                      padded_batch_size: int = 16, *, sequential: bool = True,
                      sequential_every: int = 1, quiet: bool = False) -> dict[str, Any]:
    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    engine = LLMEngine(config)
    hf_model, _ = load_causal_lm(str(model_path(config.model)), device=str(engine.device),
                                 dtype=engine.dtype)
    prompts = mixed_prompt_ids(engine.tokenizer, num_prompts)
    lengths = sorted(len(p) for p in prompts)
    dtype = str(engine.dtype).removeprefix("torch.")
    say(f"{num_prompts} prompts, {lengths[0]}..{lengths[-1]} tokens (median "
        f"{lengths[len(lengths) // 2]}), max_tokens {max_tokens}, greedy, {dtype} for all "
        "systems")
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    # Warm-up of both on two prompts (allocator, thread pools), not timed. They are not among
    # the timed ones: warming up on those would leave their blocks in our prefix cache.
    warm = mixed_prompt_ids(engine.tokenizer, 2, seed=1)
    engine.generate(warm, SamplingParams(temperature=0.0, max_tokens=4))
    hf_generate_padded(hf_model, warm, 4, 2)
    engine.reset_kv_utilisation()

    rows = []
    ours_s, ours = _timed(lambda: engine.generate(prompts, params))
    ours_ids = [r[0].token_ids for r in ours]
    ours_tokens = sum(len(t) for t in ours_ids)
    rows.append({"system": "paged-kv-server (continuous batching)", "seconds": ours_s,
                 "tokens": ours_tokens, "tokens_per_s": ours_tokens / ours_s})
    say(f"ours: {ours_tokens} tokens in {ours_s:.1f} s")
    pad_s, padded = _timed(lambda: hf_generate_padded(hf_model, prompts, max_tokens,
                                                      padded_batch_size))
    pad_tokens = sum(len(t) for t in padded)
    rows.append({"system": f"HF generate, padded batches of {padded_batch_size}",
                 "seconds": pad_s, "tokens": pad_tokens, "tokens_per_s": pad_tokens / pad_s})
    say(f"HF padded: {pad_tokens} tokens in {pad_s:.1f} s")
    result: dict[str, Any] = {
        "model": config.model, "dtype": dtype, "num_prompts": num_prompts,
        "max_tokens": max_tokens,
        "tokens_per_s": round(ours_tokens / ours_s, 2),
        "hf_padded_tokens_per_s": round(pad_tokens / pad_s, 2),
        "speedup_vs_padded": round((ours_tokens / ours_s) / (pad_tokens / pad_s), 3),
    }
    if sequential:
        # One request at a time is a per-request rate, so a regular subset (every k-th prompt)
        # estimates it without an hour of waiting; k = 1 runs all of them.
        subset = list(range(0, num_prompts, sequential_every))
        seq_s, seq = _timed(lambda: hf_generate_sequential(hf_model, [prompts[i] for i in subset],
                                                           max_tokens))
        seq_tokens = sum(len(t) for t in seq)
        label = "" if sequential_every == 1 else f" ({len(subset)} of the prompts)"
        rows.append({"system": "HF generate, one request at a time" + label, "seconds": seq_s,
                     "tokens": seq_tokens, "tokens_per_s": seq_tokens / seq_s})
        say(f"HF sequential{label}: {seq_tokens} tokens in {seq_s:.1f} s")
        result["hf_sequential_tokens_per_s"] = round(seq_tokens / seq_s, 2)
        result["hf_sequential_prompts"] = len(subset)
        result["speedup_vs_sequential"] = round((ours_tokens / ours_s) / (seq_tokens / seq_s), 3)
        same = sum(ours_ids[i] == out for i, out in zip(subset, seq, strict=True))
        result["identical_to_hf_sequential"] = f"{same}/{len(subset)}"
        # The same count for HF's own padded batches: in bfloat16 a GEMM row's rounding depends
        # on how many rows share the call, so batched greedy drifts from one-at-a-time for any
        # batched system; this is the yardstick for the line above.
        same = sum(padded[i] == out for i, out in zip(subset, seq, strict=True))
        result["hf_padded_identical_to_hf_sequential"] = f"{same}/{len(subset)}"
    cpp = _llama_cpp(prompts, max_tokens)
    if cpp is not None:
        rows.append({"system": "llama.cpp Q4_1 GGUF, sequential", "seconds": cpp["seconds"],
                     "tokens": cpp["tokens"], "tokens_per_s": cpp["tokens"] / cpp["seconds"]})
        result["speedup_vs_llama_cpp"] = round((ours_tokens / ours_s)
                                               / (cpp["tokens"] / cpp["seconds"]), 3)
    else:
        result["llama_cpp"] = "not installed (optional peer: llama-cpp-python)"
    util = engine.kv_utilisation()
    result["kv_utilisation_paged"] = round(util["paged"], 4)
    result["kv_utilisation_contiguous"] = round(util["contiguous"], 4)
    result["kv_utilisation_contiguous_max_len"] = round(util["contiguous_max_len"], 4)
    result["prefix_hit_rate"] = round(engine.block_manager.prefix_hit_rate, 4)
    result["free_blocks_after"] = f"{engine.block_manager.num_free_blocks}/" \
                                  f"{engine.block_manager.num_blocks}"
    say(markdown_table(rows))
    say(f"KV utilisation (live tokens / reserved slots): paged {util['paged']:.1%}, contiguous "
        f"reserving prompt + max_tokens {util['contiguous']:.1%}, contiguous reserving "
        f"max_model_len {util['contiguous_max_len']:.1%}; prefix-cache hit rate "
        f"{result['prefix_hit_rate']:.1%}")
    print(f"torch threads: {__import__('torch').get_num_threads()}", file=sys.stderr)
    return result
