"""Offline throughput bench: 64 mixed-length chat prompts, engine vs HF generate (same process).

Prints the table and, last, one JSON line. Same as `paged-kv-server bench`, with the README's
settings as defaults:
    OMP_NUM_THREADS=1 uv run python bench/bench_offline.py   # in projects/paged-kv-server
Extra flags are passed through (e.g. --padded-batch-size 64, --dtype bfloat16: our engine and HF
both in bf16, --sequential-every 4: time HF one-at-a-time on every 4th prompt only, ~4 min less;
those all share one question of the four, so the README uses all 64).
"""

import sys

from paged_kv_server.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--device", "cpu", "--sequential-every", "1", *sys.argv[1:]]))
