"""Command line of minhash-dedup: a thin layer over the library (see `minhash-dedup --help`).

  minhash-dedup run INPUT... --output DIR [--threshold T] [--stages ...] [--engine local|ray]
  minhash-dedup demo                       # the stdlib sources + docs, what was removed and why
  minhash-dedup bench [--json]             # planted near-duplicates vs datasketch
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .benchmark import BenchConfig, format_bench, run_bench
from .config import PipelineConfig
from .demo import DemoConfig, run_demo
from .pipeline import run_pipeline

RUN_EPILOG = """\
INPUT is a .jsonl/.ndjson/.json file (one JSON object per line), a .parquet file, a text file, a
folder of .txt/.md/.rst files (one document per file), or `corpus` / `corpus:sources,docstrings`
(the stdlib text built into every Python). Outputs in DIR: kept.jsonl (kept records, text
normalised and PII-redacted), removed.jsonl (id, stage, reason; cluster and duplicate_of for
duplicates; the original record), report.json, report.md and PNG histograms.

examples:
  minhash-dedup run data.jsonl --output out/ --threshold 0.7
  minhash-dedup run corpus --output out/ --stages exact near --verify
  minhash-dedup run shards/*.parquet --output out/ --text-field content --engine ray
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minhash-dedup",
        description="Corpus cleaning for LLM training data: normalisation, exact and MinHash-LSH "
                    "near dedup, Gopher/C4 quality filters, PII redaction, toxicity scoring "
                    "(chapter 3.1, 数据工程基础, of LLM Full-Stack Engineering).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="clean INPUT files into DIR (kept.jsonl, removed.jsonl, report.*)",
        description="Run the pipeline normalize -> exact -> near -> quality -> pii -> toxicity "
                    "(each stage optional) over INPUT, streaming, and write DIR atomically.",
        epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or 'corpus'")
    run.add_argument("--output", "-o", required=True, type=Path, metavar="DIR",
                     help="output folder (replaced as a whole when the run succeeds)")
    run.add_argument("--json", action="store_true", help="print only the report's JSON line")
    add_config_args(run, PipelineConfig)
    demo = commands.add_parser(
        "demo", help="the whole pipeline on the stdlib sources + docs, explained",
        description="Runs every stage on the built-in corpus (stdlib sources and docstrings, "
                    "which contain real near-duplicates), prints what was removed and why; "
                    "the last line is JSON with the count per stage.")
    add_config_args(demo, DemoConfig)
    bench = commands.add_parser(
        "bench", help="precision/recall on planted near-duplicates and speed vs datasketch",
        description="Generates documents with planted near-duplicates at known Jaccard "
                    "similarities, measures precision/recall of LSH candidates against exact "
                    "Jaccard at several thresholds, and documents/s of signatures + LSH against "
                    "datasketch MinHash + MinHashLSH on the same corpus (alternating, median).")
    bench.add_argument("--json", action="store_true", help="print only the final JSON line")
    add_config_args(bench, BenchConfig)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        report = run_pipeline(args.inputs, args.output, build_config(PipelineConfig, args))
        if not args.json:
            counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
            print(f"wrote {args.output}/kept.jsonl, removed.jsonl, report.json, report.md: "
                  f"{counts}")
        emit_json({"output": str(args.output), **report["counts"],
                   "seconds": report["run"]["seconds"]})
    elif args.command == "demo":
        result = run_demo(build_config(DemoConfig, args))
        emit_json(result)
    elif args.command == "bench":
        result = run_bench(build_config(BenchConfig, args))
        if not args.json:
            print(format_bench(result))
        emit_json(result["summary"])
    return 0
