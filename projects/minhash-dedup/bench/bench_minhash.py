"""Planted near-duplicates: precision/recall vs exact Jaccard, and docs/s vs datasketch.

Run (the README's numbers): `uv run python bench/bench_minhash.py` from projects/minhash-dedup.
Same code as `minhash-dedup bench`, at a larger size; prints the tables, last line one JSON object.
"""

import argparse
import statistics

from llm_shared import emit_json, markdown_table
from minhash_dedup.benchmark import BenchConfig, format_bench, run_bench

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--docs", type=int, default=10_000)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--seeds", type=int, default=3, help="corpora for the mean recall table")
args = parser.parse_args()
thresholds = [0.5, 0.6, 0.7, 0.8, 0.9]
result = run_bench(BenchConfig(docs=args.docs, repeats=args.repeats, thresholds=thresholds))
print(format_bench(result))
# Recall is a random variable of the hash functions and the corpus: ours and datasketch use
# different shingle hashes, so compare their means over several corpora too.
tables = [result["rows"]] + [run_bench(BenchConfig(docs=args.docs, thresholds=thresholds,
                                                   seed=seed), timed=False)["rows"]
                             for seed in range(1, args.seeds)]
mean_rows = []
for k, t in enumerate(thresholds):
    row = {"threshold": t, "true pairs": sum(tab[k]["true pairs"] for tab in tables)}
    for key in ("ours P", "ours R", "datasketch P", "datasketch R"):
        row[key] = round(statistics.mean(tab[k][key] for tab in tables), 4)
    mean_rows.append(row)
print(f"\nmean over {len(tables)} corpora (seeds 0..{len(tables) - 1}):")
print(markdown_table(mean_rows))
emit_json({**result["summary"], "mean_recall_by_threshold": {
    str(r["threshold"]): {"ours": r["ours R"], "datasketch": r["datasketch R"]}
    for r in mean_rows}})
