"""Benchmark: the cost of one target forward (incl. LM head) over T new tokens after a cached
prefix, for our lean engine and Hugging Face's modules + DynamicCache, in float32 and bfloat16.

This is what decides whether speculation can pay: a step that verifies T nodes and emits A
tokens beats plain decoding by A * cost(1) / cost(T). Engines and dtypes are interleaved per
repeat (same-run ratios); the median is reported. Prints a Markdown table, last line JSON.

    uv run --package medusa-decoder python bench/bench_forward.py --threads 1 --repeats 7
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from llm_shared import emit_json, load_causal_lm, markdown_table, torch_threads
from medusa_decoder.lean import LeanLlama
from transformers import DynamicCache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=int, default=200, help="cached tokens before the step")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16],
                        help="new tokens T per forward")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    torch_threads(args.threads)
    base, _ = load_causal_lm(device="cpu")
    ids = torch.randint(100, 40000, (args.prefix + max(args.sizes),))
    runs = {}
    for name in args.dtypes:
        dtype = getattr(torch, name)
        hf = base if dtype == torch.float32 else copy.deepcopy(base).to(dtype)
        lean = LeanLlama(base, dtype)
        cache = lean.new_cache(args.prefix + max(args.sizes))
        lean.forward(ids[:args.prefix], torch.arange(args.prefix), cache)
        cache.length = args.prefix
        hf_cache = DynamicCache(config=hf.config)
        with torch.inference_mode():
            hf.model(input_ids=ids[None, :args.prefix], cache=hf_cache, use_cache=True)

        def run_lean(T: int, lean=lean, cache=cache) -> None:
            lean.logits(lean.forward(ids[args.prefix:args.prefix + T],
                                     torch.arange(args.prefix, args.prefix + T), cache))

        def run_hf(T: int, hf=hf, hf_cache=hf_cache) -> None:
            with torch.inference_mode():
                out = hf.model(input_ids=ids[None, args.prefix:args.prefix + T],
                               position_ids=torch.arange(args.prefix, args.prefix + T)[None],
                               cache=hf_cache, use_cache=True)
                hf.lm_head(out.last_hidden_state)
                for layer in hf_cache.layers:  # back to the prefix for the next repeat
                    layer.keys = layer.keys[..., :args.prefix, :]
                    layer.values = layer.values[..., :args.prefix, :]

        runs[("lean", name)] = run_lean
        runs[("hf", name)] = run_hf
    times: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(args.repeats):
        for T in args.sizes:
            for (engine, name), fn in runs.items():
                start = time.perf_counter()
                fn(T)
                times.setdefault((engine, name, T), []).append(time.perf_counter() - start)
    rows, result = [], {}
    for (engine, name), _fn in runs.items():
        one = statistics.median(times[(engine, name, 1)])
        for T in args.sizes:
            ms = statistics.median(times[(engine, name, T)]) * 1000
            rows.append({"engine": engine, "dtype": name, "T": T, "ms": round(ms, 1),
                         "cost_vs_T1": round(ms / 1000 / one, 2)})
            result[f"{engine}/{name}/T{T}"] = round(ms, 1)
    print(f"{args.threads} torch thread(s), {args.prefix} cached tokens, "
          f"median of {args.repeats}")
    print(markdown_table(rows))
    emit_json({"forward_ms": result, "prefix": args.prefix, "threads": args.threads})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
