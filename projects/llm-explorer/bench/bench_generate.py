"""Our generation loop vs Hugging Face `generate` on the embedded SmolLM2 (greedy and sampled,
100 new tokens, alternating repeats, medians). Prints a table; the last line is one JSON object.

Run: `OMP_NUM_THREADS=1 uv run python bench/bench_generate.py [--repeats 5] [--warmup 1]`
"""

from __future__ import annotations

import argparse
import json

import torch
from llm_explorer import Engine
from llm_explorer.bench import run_bench
from llm_shared import EMBEDDED_LLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=EMBEDDED_LLM)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first")
    args = parser.parse_args()
    torch.set_num_threads(1)  # NOTE: one thread was faster per token on the shared 2-core box
    rows = run_bench(Engine.load(args.model), new_tokens=args.new_tokens, repeats=args.repeats,
                     warmup=args.warmup)
    print("| mode | ours tok/s | HF generate tok/s | ours / HF | greedy ids identical |")
    print("|---|---|---|---|---|")
    for mode, row in rows.items():
        print(f"| {mode} | {row['ours_tokens_per_s']} | {row['hf_tokens_per_s']} | "
              f"{row['ratio']}x | {row.get('identical', '—')} |")
    print(json.dumps({"model": args.model, "repeats": args.repeats, "warmup": args.warmup,
                      **rows}))


if __name__ == "__main__":
    main()
