"""Peak memory and throughput of `minhash-dedup run` (exact + near dedup + quality filters) at two
corpus sizes, optionally with `--verify`.

Writes synthetic JSONL corpora of N1 and N2 documents (200 words each, planted near-duplicates),
runs the CLI on each in a fresh process, reads peak RSS from report.json and reports the slope
(MiB per million documents) and the intercept. The slope is what the dedup state costs per
document (ids, content hashes, band keys; with --verify also the shingle hashes) plus the
report's state (fixed-bin histograms: nothing per document); the intercept is the interpreter
and libraries.
Run: `uv run python bench/bench_memory.py` from projects/minhash-dedup. Last line: one JSON object.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from llm_shared import emit_json, markdown_table
from minhash_dedup.benchmark import BenchConfig, synthetic_corpus

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--sizes", type=int, nargs=2, default=[50_000, 200_000])
parser.add_argument("--stages", nargs="+", default=["normalize", "exact", "near", "quality"])
parser.add_argument("--verify", action="store_true", help="pass --verify to the runs")
parser.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
args = parser.parse_args()

if args.write:  # child process: the corpus texts never enter the measuring parent
    texts, _ = synthetic_corpus(BenchConfig(docs=int(args.write[0]), seed=1))
    with open(args.write[1], "w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    sys.exit(0)

# NOTE: a child's ru_maxrss starts from its parent's RSS at fork, so the parent stays small: the
# corpora are written by one child each and measured in another.
rows = []
with tempfile.TemporaryDirectory(prefix="minhash-mem-") as tmp:
    for n in args.sizes:
        data = Path(tmp) / f"corpus-{n}.jsonl"
        subprocess.run([sys.executable, __file__, "--write", str(n), str(data)], check=True)
        out = Path(tmp) / f"out-{n}"
        subprocess.run([sys.executable, "-m", "minhash_dedup", "run", str(data), "--output",
                        str(out), "--no-plots", "--json", "--stages", *args.stages,
                        *(["--verify"] if args.verify else [])],
                       check=True, stdout=subprocess.DEVNULL)
        report = json.loads((out / "report.json").read_text())
        rows.append({"docs": n, "seconds": report["run"]["seconds"],
                     "docs/s": round(n / report["run"]["seconds"], 1),
                     "peak RSS MiB": report["run"]["peak_rss_mb"],
                     "near removed": report["counts"]["near"]})
(a, b) = rows
slope = (b["peak RSS MiB"] - a["peak RSS MiB"]) / (b["docs"] - a["docs"]) * 1e6
print(markdown_table(rows))
print(f"\npeak memory: {slope:.0f} MiB per million documents "
      f"(+ {a['peak RSS MiB'] - slope * a['docs'] / 1e6:.0f} MiB fixed)")
emit_json({"stages": args.stages, "verify": args.verify, "rows": rows,
           "mib_per_million_docs": round(slope, 1)})
