"""Planted near-duplicates: precision/recall vs exact Jaccard, and docs/s vs datasketch.

Run (the README's numbers): `uv run python bench/bench_minhash.py` from projects/minhash-dedup.
Same code as `minhash-dedup bench`, at a larger size; prints the tables, last line one JSON object.

Recall of one run is a random variable of the hash functions and the corpus: ours and datasketch
share the permutations and b x r but hash shingles differently (ours: a rolling 64-bit word hash;
datasketch: sha1), so at equal settings their recall is equal only in expectation. The second table
therefore repeats the measurement over `--seeds` corpora, each with its own permutation seed used
by both, and gives the paired difference with a 95% interval.
"""

import argparse
import math
import statistics

from llm_shared import emit_json, markdown_table
from minhash_dedup.benchmark import BenchConfig, format_bench, run_bench

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--docs", type=int, default=10_000)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--seeds", type=int, default=8, help="corpora for the mean recall table")
args = parser.parse_args()
thresholds = [0.5, 0.6, 0.7, 0.8, 0.9]
result = run_bench(BenchConfig(docs=args.docs, repeats=args.repeats, thresholds=thresholds))
print(format_bench(result))
tables = [result["rows"]] + [run_bench(BenchConfig(docs=args.docs, thresholds=thresholds,
                                                   seed=seed, perm_seed=seed + 1),
                                       timed=False)["rows"]
                             for seed in range(1, args.seeds)]
names = ("ours", "ours --verify", "datasketch", "datasketch --verify")
mean_rows = []
for k, t in enumerate(thresholds):
    row = {"threshold": t, "true pairs": sum(tab[k]["true pairs"] for tab in tables)}
    for name in names:
        for m in ("P", "R"):
            row[f"{name} {m}"] = round(statistics.mean(tab[k][f"{name} {m}"] for tab in tables), 4)
    # Paired recall differences at equal settings (mean +- 1.96 se): ours vs datasketch at its
    # b x r, and ours --verify vs datasketch with the same weights and the same exact check.
    for name, peer in (("ours", "datasketch"), ("ours --verify", "datasketch --verify")):
        diffs = [tab[k][f"{name} R"] - tab[k][f"{peer} R"] for tab in tables]
        half = 1.96 * statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
        row[f"{name} R - {peer} R"] = f"{statistics.mean(diffs):+.4f} ± {half:.4f}"
    mean_rows.append(row)
print(f"\nmean over {len(tables)} corpora (corpus seeds 0..{len(tables) - 1}, permutation seeds "
      f"1..{len(tables)}; ± = 95% interval of the paired recall difference):")
print(markdown_table(mean_rows))
emit_json({**result["summary"], "seeds": len(tables), "mean_recall_by_threshold": {
    str(r["threshold"]): {name: r[f"{name} R"] for name in names} for r in mean_rows}})
