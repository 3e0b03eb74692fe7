"""Benchmark script: the same as `bpe-tokenizer bench --json`, for people who run bench/ files.

Run from the project folder: `uv run python bench/bench_bpe.py [--repeats 3 ...]` (about 5
minutes on 2 cores, most of it the recount baseline). Prints one table per section and, last,
one JSON object with every figure. What is measured and against which peer is described in
src/bpe_tokenizer/bench.py.
"""

import sys

from bpe_tokenizer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--json", *sys.argv[1:]]))
