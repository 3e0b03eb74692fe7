"""Passkey retrieval and needle-in-a-haystack: prompts of a set length, greedy answers, heatmap.

A trial is `{"passkey": "48213", "length": 1024, "depth": 0.25}`: a prompt of `length` tokens
(within 5 %) whose key sentence sits at `depth` of the way through the filler. `passkey` uses the
classic repeated filler (Mohtashami & Jaggi 2023); `needle` hides "the special magic number" in
real prose (the workspace corpus). The model continues the prompt greedily; a trial is correct when
the first number in its answer is the passkey. Records keep the exact prompt text, so a failure can
be replayed with any other tool.

Leaves out chat templates (a plain completion works for base and instruct models alike) and
multi-needle variants. Run: `long-context passkey --trials trials.jsonl --output runs/pk --json`.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_dir, track

MAX_NEW_TOKENS = 12


@dataclass(frozen=True)
class Haystack:
    """How a prompt is built: header, filler units, the key sentence and the question."""

    header: str
    units: tuple[str, ...]  # filler pieces, cycled as needed
    needle: str  # formatted with {key}
    question: str


PASSKEY = Haystack(
    header=(
        "There is an important info hidden inside a lot of irrelevant text. Find it and "
        "memorize it. I will quiz you about the important information there."
    ),
    units=(
        " The grass is green.",
        " The sky is blue.",
        " The sun is yellow.",
        " Here we go.",
        " There and back again.",
    ),
    needle=" The pass key is {key}. Remember it. {key} is the pass key.",
    question=" What is the pass key? The pass key is",
)


def needle_haystack() -> Haystack:
    from llm_shared import corpus_text

    text = corpus_text(("topics",), max_chars=200_000)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20]
    return Haystack(
        header="Read the following text carefully. A special magic number is hidden in it.",
        units=tuple(" " + s for s in sentences),
        needle=" The special magic number is {key}.",
        question=(
            " What is the special magic number mentioned in the text? The special magic number is"
        ),
    )


def read_trials(path: Path) -> list[dict[str, Any]]:
    """Parse and check a trials JSONL file (one-line UserErrors name the line)."""
    if not path.is_file():
        raise UserError(
            f"trials file {path} not found; write JSONL lines like "
            '{"passkey": "48213", "length": 1024, "depth": 0.5}'
        )
    trials = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            trial = json.loads(line)
            key, length, depth = str(trial["passkey"]), int(trial["length"]), float(trial["depth"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}:{number}: need passkey, length, depth ({exc})") from exc
        if not key.isdigit() or not 0 <= depth <= 1 or length < 1:
            raise UserError(
                f"{path}:{number}: passkey must be digits, depth in [0, 1], length >= 1"
            )
        trials.append({**trial, "passkey": key, "length": length, "depth": depth})
    if not trials:
        raise UserError(f"{path} has no trials")
    return trials


def make_trials(
    lengths: list[int], depths: list[float], per_cell: int = 1, seed: int = 0
) -> list[dict]:
    """A depth x length grid of trials with random 5-digit passkeys."""
    rng = random.Random(seed)
    return [
        {"passkey": str(rng.randint(10000, 99999)), "length": n, "depth": d}
        for n in lengths
        for d in depths
        for _ in range(per_cell)
    ]


def build_prompt(tokenizer: Any, haystack: Haystack, key: str, length: int, depth: float) -> str:
    """The prompt text with `length` tokens (+-5 %) and the key sentence at `depth`."""
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    needle = haystack.needle.format(key=key)
    fixed = count(haystack.header + needle + haystack.question)
    if fixed > 0.95 * length:
        raise UserError(
            f"a trial of {length} tokens is too short for its passkey: the header, key "
            f"and question alone take {fixed}; use length >= {int(fixed / 0.95) + 1}"
        )
    chosen: list[str] = []
    used = fixed
    index = 0
    costs: dict[str, int] = {}
    while True:
        unit = haystack.units[index % len(haystack.units)]
        cost = costs.setdefault(unit, count(unit))
        if used + cost > length:
            break
        chosen.append(unit)
        used += cost
        index += 1
    at = round(depth * len(chosen))
    prompt = (
        haystack.header + "".join(chosen[:at]) + needle + "".join(chosen[at:]) + haystack.question
    )
    actual = count(prompt)
    if abs(actual - length) > 0.05 * length:
        raise UserError(
            f"could not fit a prompt to {length} tokens (got {actual}); use a longer length"
        )
    return prompt


def first_number(text: str) -> str | None:
    """' 48213. Remember' -> '48213'."""
    found = re.search(r"\d+", text)
    return found.group(0) if found else None


@torch.inference_mode()
def run_trials(
    model: Any,
    tokenizer: Any,
    trials: list[dict],
    haystack: Haystack = PASSKEY,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> list[dict[str, Any]]:
    """Each trial plus `prompt`, `prompt_tokens`, `max_new_tokens`, `answer`, `correct`."""
    prompts = [
        build_prompt(tokenizer, haystack, t["passkey"], t["length"], t["depth"]) for t in trials
    ]
    records = []
    for trial, prompt in track(list(zip(trials, prompts, strict=True)), "trials"):
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        ids = ids.to(model.device)  # (1, T)
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.eos_token_id,
        )
        answer = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        records.append(
            {
                **trial,
                "prompt": prompt,
                "prompt_tokens": int(ids.shape[1]),
                "max_new_tokens": max_new_tokens,
                "answer": answer,
                "correct": first_number(answer) == trial["passkey"],
            }
        )
    return records


def accuracy_grid(records: list[dict]) -> tuple[list[int], list[float], list[list[float]]]:
    """(lengths, depths, accuracy[depth][length]) from trial records."""
    lengths = sorted({r["length"] for r in records})
    depths = sorted({r["depth"] for r in records})
    grid = []
    for d in depths:
        row = []
        for n in lengths:
            cell = [r["correct"] for r in records if r["length"] == n and r["depth"] == d]
            row.append(sum(cell) / len(cell) if cell else float("nan"))
        grid.append(row)
    return lengths, depths, grid


def plot_heatmap(records: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths, depths, grid = accuracy_grid(records)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(lengths), 1.2 + 0.5 * len(depths)))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("key depth")
    ax.set_title(title, fontsize=9)
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            ax.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_run(
    records: list[dict], output: Path, title: str, overwrite: bool = False
) -> dict[str, Any]:
    """DIR/trials.jsonl + DIR/heatmap.png, all or nothing; returns the summary."""
    if output.exists() and not overwrite:
        raise UserError(f"{output} already exists; pass --overwrite or choose another --output")
    with atomic_dir(output) as tmp:
        with open(tmp / "trials.jsonl", "w") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        plot_heatmap(records, tmp / "heatmap.png", title)
    correct = sum(r["correct"] for r in records)
    return {
        "accuracy": round(correct / len(records), 4),
        "n": len(records),
        "correct": correct,
        "output": str(output),
    }
