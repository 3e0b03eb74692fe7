"""Benchmark script: every method vs HF generate (plain, prompt lookup, assisted) on chat and
Python-docs prompts, all in one dtype (float32 unless `--dtype bfloat16`); prints a header, a
Markdown table, the issue's goal lines, last line one JSON object. Defaults: 2 prompts per kind
x 96 tokens, 3 interleaved repeats (median); HF assisted generation is most of the time.

    uv run --package medusa-decoder python bench/bench_decoding.py --threads 1

Same as `medusa-decoder bench`; kept as a script so the README's command is a file to read.
"""

import sys

from medusa_decoder.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
