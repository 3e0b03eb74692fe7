"""Exact match by task x attention variant x position scheme, and length generalisation: each
model is trained on inputs of length <= L and tested on held-out inputs of length exactly 2L
(addition: 2L-digit operands). Every run is a real `train` into a scratch folder.

Run: `OMP_NUM_THREADS=1 uv run --package transformer-core python bench/position_table.py
--tasks reverse --steps 600 --length 6` (about 40 CPU-seconds per run). Last line: JSON.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from llm_shared import emit_json, markdown_table
from transformer_core.config import ATTENTIONS, POSITIONS, TASKS, TrainConfig
from transformer_core.train import exact_match, load_run, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["reverse"], choices=TASKS)
    parser.add_argument("--attention", nargs="+", default=list(ATTENTIONS), choices=ATTENTIONS)
    parser.add_argument("--position", nargs="+", default=list(POSITIONS), choices=POSITIONS)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--length", type=int, default=6)
    parser.add_argument("--lr-factor", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for task in args.tasks:
            for attention in args.attention:
                for position in args.position:
                    out = Path(scratch) / f"{task}-{attention}-{position}"
                    start = time.process_time()
                    metrics = train(TrainConfig(task=task, output=out, steps=args.steps,
                                                length=args.length, attention=attention,
                                                position=position, seed=args.seed,
                                                lr_factor=args.lr_factor,
                                                eval_size=300))
                    model, spec = load_run(out)
                    longer = spec.examples(args.seed + 31, 300, held_out=True,
                                           length=2 * args.length)
                    row = {"task": task, "attention": attention, "position": position,
                           f"exact match (len <= {args.length})": metrics["exact_match"],
                           f"exact match (len {2 * args.length})": exact_match(model, spec,
                                                                               longer),
                           "cpu s": round(time.process_time() - start, 1)}
                    print(row, flush=True)
                    rows.append(row)
    print(markdown_table(rows))
    emit_json({"steps": args.steps, "length": args.length, "rows": rows})


if __name__ == "__main__":
    main()
