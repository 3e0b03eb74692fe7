"""Bench: peak memory and step time of full vs LoRA vs QLoRA, and our LoRA vs peft's (same run).

Run from projects/qlora-tuner: `uv run python bench/bench_methods.py` (add --json for only the
last line). Prints a table; the last stdout line is one JSON object. Not collected by pytest.
"""

from __future__ import annotations

import sys

from qlora_tuner.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
