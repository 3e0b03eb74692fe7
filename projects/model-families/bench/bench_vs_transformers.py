"""Forward time per family and SmolLM2 greedy decode tok/s, ours vs transformers (same process,
alternating, medians). Same as `model-families bench`; last stdout line is one JSON object.

Run: OMP_NUM_THREADS=2 uv run python bench/bench_vs_transformers.py --repeats 5
"""

import sys

from model_families.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
