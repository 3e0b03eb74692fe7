"""Our GRPO vs trl.GRPOTrainer: seconds per step and reward after the same steps, same model, task,
prompts and batch shape, steps alternating in one process (see ppo_trainer/bench.py).

Run from projects/ppo-trainer: `uv run python bench/bench_grpo_vs_trl.py [--steps 4 ...]`
(the same as `uv run ppo-trainer bench`). Prints a Markdown table, then one JSON line.
"""

import sys

from ppo_trainer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
