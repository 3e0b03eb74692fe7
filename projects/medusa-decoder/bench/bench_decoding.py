"""Benchmark script: every method vs HF generate (plain, prompt lookup, assisted) on chat and
Python-docs prompts, all in one dtype (bf16 on a CPU with AVX512-BF16, `--dtype float32` to
compare); prints a header, a Markdown table, the issue's goal lines, last line one JSON object.

    uv run --package medusa-decoder python bench/bench_decoding.py --prompts 2 --max-tokens 48 \
        --threads 1

Same as `medusa-decoder bench`; kept as a script so the README's command is a file to read.
"""

import sys

from medusa_decoder.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
