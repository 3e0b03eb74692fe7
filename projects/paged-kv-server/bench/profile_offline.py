"""Where the engine's time goes on the offline bench workload (torch.profiler, CPU ops).

Runs only our engine (no HF peer) on the same 64 prompts and max_tokens as `bench_offline.py`,
once without the profiler (wall time) and once under it, and sums the self time of the torch ops
into GEMMs, attention (SDPA), KV gathers/scatters and the rest; what the ops do not cover is
Python (scheduler, batch preparation, sampling bookkeeping) plus profiler overhead.
    OMP_NUM_THREADS=1 uv run python bench/profile_offline.py [--dtype bfloat16] [--top 15]
Prints a table and, last, one JSON line.
"""

import argparse
import time

from llm_shared import emit_json, markdown_table, torch_threads
from paged_kv_server import EngineConfig, LLMEngine, SamplingParams
from paged_kv_server.workload import mixed_prompt_ids
from torch.profiler import ProfilerActivity, profile

CATEGORIES = {
    "GEMM (linear)": ("aten::mm", "aten::addmm"),
    "attention (SDPA)": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                         "aten::_scaled_dot_product_attention_math"),
    "KV gather / scatter": ("aten::index_select", "aten::index", "aten::index_copy_",
                            "aten::_index_put_impl_"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", help="float32 (default) or bfloat16")
    parser.add_argument("--num-prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--top", type=int, default=12, help="ops listed in the detail table")
    args = parser.parse_args()
    def fresh_engine() -> LLMEngine:  # an empty prefix cache, warmed up on other prompts
        engine = LLMEngine(EngineConfig(device="cpu", dtype=args.dtype))
        warm = mixed_prompt_ids(engine.tokenizer, 2, seed=1)
        engine.generate(warm, SamplingParams(temperature=0.0, max_tokens=4))
        return engine

    engine = fresh_engine()
    prompts = mixed_prompt_ids(engine.tokenizer, args.num_prompts)
    params = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    start = time.perf_counter()
    engine.generate(prompts, params)
    wall = time.perf_counter() - start
    engine = fresh_engine()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        engine.generate(prompts, params)
        wall_profiled = time.perf_counter() - start
    ops = {e.key: (e.self_cpu_time_total / 1e6, e.count) for e in prof.key_averages()}
    total = sum(s for s, _ in ops.values())
    sums = {name: sum(ops.get(op, (0.0, 0))[0] for op in names)
            for name, names in CATEGORIES.items()}
    sums["other torch ops"] = total - sum(sums.values())
    sums["Python + profiler overhead"] = max(wall_profiled - total, 0.0)
    rows = [{"part": k, "seconds": round(v, 2), "share": f"{v / wall_profiled:.1%}"}
            for k, v in sums.items()]
    print(f"{args.dtype}: {wall:.1f} s without the profiler, {wall_profiled:.1f} s under it")
    print(markdown_table(rows))
    top = sorted(ops.items(), key=lambda kv: -kv[1][0])[:args.top]
    print(markdown_table([{"op": k, "self_s": round(s, 2), "calls": n} for k, (s, n) in top]))
    emit_json({"dtype": args.dtype, "seconds": round(wall, 2),
               "seconds_profiled": round(wall_profiled, 2),
               **{k: round(v, 2) for k, v in sums.items()}})


if __name__ == "__main__":
    torch_threads(1)
    main()
