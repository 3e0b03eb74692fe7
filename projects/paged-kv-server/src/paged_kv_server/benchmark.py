"""Offline throughput: the engine against HF `generate` (sequential and padded batches).

Same model weights, same greedy decoding, same max_tokens, EOS ends a sequence in all three; the
figure is generated tokens per second. Each peer is timed against the engine with
`llm_shared.compare`: alternating runs (the order flips every repeat), median of `repeats` each;
the engine's prefix cache is emptied before each of its runs, so a repeat never reuses the
previous one's prompts. Ratios are of the two medians from the same comparison. Also reports
how many outputs are token-identical to the sequential HF run, and the KV memory utilisation
(live tokens / reserved slots) of the paged cache against a contiguous cache that reserves
prompt + max_tokens per sequence. The optional peer
llama.cpp (`llama-cpp-python` on the embedded GGUF) runs when it is installed.
Run: `paged-kv-server bench --json` or `python bench/bench_offline.py`.
"""

from __future__ import annotations

import sys
from typing import Any

from llm_shared import compare, load_causal_lm, markdown_table, model_path

from .config import EngineConfig
from .engine import LLMEngine
from .hf_baseline import hf_generate_padded, hf_generate_sequential
from .sampling_params import SamplingParams
from .workload import mixed_prompt_ids


def _llama_cpp(prompts: list[list[int]], max_tokens: int) -> Any:
    """A callable running sequential llama.cpp on the Q4_1 GGUF the embedded model comes from
    (returns the tokens generated), or None when llama-cpp-python is not installed."""
    try:
        from llama_cpp import Llama  # optional peer; the workspace excludes it (14-min compile)
    except ImportError:
        return None
    from llm_shared import smollm2_gguf_path

    llm = Llama(model_path=str(smollm2_gguf_path()), n_ctx=4096, verbose=False)

    def run() -> int:
        return sum(llm.create_completion(ids, max_tokens=max_tokens, temperature=0.0)
                   ["usage"]["completion_tokens"] for ids in prompts)
    return run


def run_offline_bench(config: EngineConfig, num_prompts: int = 64, max_tokens: int = 64,
                      padded_batch_size: int = 16, *, sequential: bool = True,
                      sequential_every: int = 1, quiet: bool = False,
                      repeats: int = 3) -> dict[str, Any]:
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

    out: dict[str, Any] = {}

    def ours_run() -> None:
        engine.block_manager.reset_prefix_cache()
        out["ours"] = [r[0].token_ids for r in engine.generate(prompts, params)]

    def padded_run() -> None:
        out["padded"] = hf_generate_padded(hf_model, prompts, max_tokens, padded_batch_size)

    rows = []
    vs_padded = compare(ours_run, padded_run, repeats=repeats, warmup=0,
                        names=("ours", "hf_padded"))
    ours_ids, padded = out["ours"], out["padded"]
    ours_tokens, pad_tokens = sum(len(t) for t in ours_ids), sum(len(t) for t in padded)
    ours_s, pad_s = vs_padded.median_a, vs_padded.median_b
    rows.append({"system": "paged-kv-server (continuous batching)", "seconds": ours_s,
                 "tokens": ours_tokens, "tokens_per_s": ours_tokens / ours_s})
    rows.append({"system": f"HF generate, padded batches of {padded_batch_size}",
                 "seconds": pad_s, "tokens": pad_tokens, "tokens_per_s": pad_tokens / pad_s})
    say(f"ours vs HF padded, median of {repeats} alternating runs: {ours_tokens} tokens in "
        f"{ours_s:.1f} s vs {pad_tokens} in {pad_s:.1f} s")
    result: dict[str, Any] = {
        "model": config.model, "dtype": dtype, "num_prompts": num_prompts,
        "max_tokens": max_tokens, "repeats": repeats,
        "tokens_per_s": round(ours_tokens / ours_s, 2),
        "hf_padded_tokens_per_s": round(pad_tokens / pad_s, 2),
        "speedup_vs_padded": round((ours_tokens / ours_s) / (pad_tokens / pad_s), 3),
    }
    if sequential:
        # One request at a time is a per-request rate, so a regular subset (every k-th prompt)
        # estimates it without an hour of waiting; k = 1 runs all of them.
        subset = list(range(0, num_prompts, sequential_every))

        def seq_run() -> None:
            out["seq"] = hf_generate_sequential(hf_model, [prompts[i] for i in subset],
                                                max_tokens)

        vs_seq = compare(ours_run, seq_run, repeats=repeats, warmup=0,
                         names=("ours", "hf_sequential"))
        seq = out["seq"]
        seq_tokens, seq_s = sum(len(t) for t in seq), vs_seq.median_b
        label = "" if sequential_every == 1 else f" ({len(subset)} of the prompts)"
        rows.append({"system": "HF generate, one request at a time" + label, "seconds": seq_s,
                     "tokens": seq_tokens, "tokens_per_s": seq_tokens / seq_s})
        say(f"HF sequential{label}: {seq_tokens} tokens in {seq_s:.1f} s (median)")
        result["hf_sequential_tokens_per_s"] = round(seq_tokens / seq_s, 2)
        result["hf_sequential_prompts"] = len(subset)
        result["speedup_vs_sequential"] = round((ours_tokens / vs_seq.median_a)
                                                / (seq_tokens / seq_s), 3)
        same = sum(ours_ids[i] == o for i, o in zip(subset, seq, strict=True))
        result["identical_to_hf_sequential"] = f"{same}/{len(subset)}"
        # The same count for HF's own padded batches: in bfloat16 a GEMM row's rounding depends
        # on how many rows share the call, so batched greedy drifts from one-at-a-time for any
        # batched system; this is the yardstick for the line above.
        same = sum(padded[i] == o for i, o in zip(subset, seq, strict=True))
        result["hf_padded_identical_to_hf_sequential"] = f"{same}/{len(subset)}"
    cpp = _llama_cpp(prompts, max_tokens)
    if cpp is not None:
        cpp_tokens = cpp()
        vs_cpp = compare(ours_run, cpp, repeats=repeats, warmup=0, names=("ours", "llama_cpp"))
        rows.append({"system": "llama.cpp Q4_1 GGUF, sequential", "seconds": vs_cpp.median_b,
                     "tokens": cpp_tokens, "tokens_per_s": cpp_tokens / vs_cpp.median_b})
        result["speedup_vs_llama_cpp"] = round((ours_tokens / vs_cpp.median_a)
                                               / (cpp_tokens / vs_cpp.median_b), 3)
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
