"""Planted near-duplicates: precision/recall vs exact Jaccard, and docs/s vs datasketch.

Run (the README's numbers): `uv run python bench/bench_minhash.py` from projects/minhash-dedup.
Same code as `minhash-dedup bench`, at a larger size; prints the tables, last line one JSON object.
"""

import argparse

from llm_shared import emit_json
from minhash_dedup.benchmark import BenchConfig, format_bench, run_bench

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--docs", type=int, default=10_000)
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()
result = run_bench(BenchConfig(docs=args.docs, repeats=args.repeats,
                               thresholds=[0.5, 0.6, 0.7, 0.8, 0.9]))
print(format_bench(result))
emit_json(result["summary"])
