"""Accuracy vs context length, and decoding memory vs length, for models written by `train`.

    uv run python bench/accuracy_vs_length.py runs/mamba runs/transformer runs/moe \
        --lengths 32 64 128 256 --out runs/plots

Scores each model on held-out selective-copy data at each L (greedy K tokens, the trained K/V),
plots accuracy vs L, and plots the bytes each architecture holds while decoding (Mamba's conv +
SSM state vs the transformers' KV cache) after prompts of each length. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from llm_shared import emit_json, markdown_table
from mamba_moe.plots import lines
from mamba_moe.tasks import TaskSpec, batch
from mamba_moe.train import load_for_eval, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("runs/plots"))
    args = parser.parse_args()
    rows, acc, mem = [], {}, {}
    for folder in args.models:
        model, task = load_for_eval(folder)
        name = task["arch"]
        for L in args.lengths:
            spec = TaskSpec(task["task"], L, task["num_tokens"], task["vocab"])
            inputs, targets = batch(spec, args.examples, torch.Generator().manual_seed(77 + L))
            result = score(model, inputs, targets)
            _, state_bytes = model.generate(inputs[:1], 1)
            rows.append({"arch": name, "L": L, "token_accuracy": result["token_accuracy"],
                         "sequence_accuracy": result["sequence_accuracy"],
                         "decode_state_bytes": state_bytes})
            acc.setdefault(name, ([], []))[0].append(L)
            acc[name][1].append(result["token_accuracy"])
            mem.setdefault(name, ([], []))[0].append(L)
            mem[name][1].append(state_bytes / 1024)
    lines(acc, args.out / "accuracy_vs_length.png", xlabel="context length L",
          ylabel="token accuracy", title="selective copy, trained at L = 64")
    lines(mem, args.out / "memory_vs_length.png", xlabel="prompt length",
          ylabel="decoding state (KiB, batch 1)", title="state held while decoding")
    print(markdown_table(rows))
    emit_json({"rows": rows, "plots": [str(args.out / "accuracy_vs_length.png"),
                                       str(args.out / "memory_vs_length.png")]})


if __name__ == "__main__":
    main()
