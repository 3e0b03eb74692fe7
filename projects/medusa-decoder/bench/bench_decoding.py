"""Benchmark script: every method vs HF generate (plain, prompt lookup, assisted) on chat and
Python-docs prompts; prints a Markdown table, last line one JSON object.

    uv run --package medusa-decoder python bench/bench_decoding.py --prompts 3 --max-tokens 64

Same as `medusa-decoder bench`; kept as a script so the README's command is a file to read.
"""

import sys

from medusa_decoder.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
