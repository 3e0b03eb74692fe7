"""Seeded task generators and the prompts the strategies send: arithmetic, word, logic, Countdown.

Every generated problem carries a verifiable gold: numeric tasks `{"question", "answer"}` (the
answer a string, an integer here), Countdown `{"numbers", "target"}` built from a random
expression so a solution always exists. The same seed gives the same problems on every machine
(Python's `random.Random`, no global state). Leaves out GSM8K itself (no network) and grid
puzzles. Exercised by `mcts-reasoner generate --task T --n N --seed S`.
"""

from __future__ import annotations

import random
from typing import Any

from .checker import NUMERIC_TASKS, TASKS


def _arithmetic(rng: random.Random) -> dict[str, Any]:
    a, b, c = rng.randint(2, 20), rng.randint(2, 20), rng.randint(2, 9)
    form = rng.randrange(3)
    if form == 0:
        text, value = f"({a} + {b}) * {c}", (a + b) * c
    elif form == 1:
        text, value = f"{a} * {c} - {b}", a * c - b
    else:
        text, value = f"{a} + {b} * {c}", a + b * c
    return {"question": f"What is {text}?", "answer": str(value)}


_ITEMS = ("apples", "pencils", "stickers", "marbles", "cookies")
_NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Farah")


def _word(rng: random.Random) -> dict[str, Any]:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    boxes, per_box, eaten = rng.randint(2, 6), rng.randint(3, 12), rng.randint(1, 9)
    question = (f"{name} has {boxes} boxes with {per_box} {item} in each box. "
                f"{name} gives away {eaten} {item}. How many {item} does {name} have left?")
    return {"question": question, "answer": str(boxes * per_box - eaten)}


def _logic(rng: random.Random) -> dict[str, Any]:
    x, y, z = rng.sample(_NAMES, 3)
    age_z, diff, factor = rng.randint(2, 12), rng.randint(1, 9), rng.randint(2, 3)
    question = (f"{z} is {age_z} years old. {y} is {factor} times as old as {z}. "
                f"{x} is {diff} years older than {y}. How old is {x}?")
    return {"question": question, "answer": str(age_z * factor + diff)}


def _countdown(rng: random.Random, size: int = 4) -> dict[str, Any]:
    numbers = [rng.randint(1, 12) for _ in range(size)]
    # Fold the numbers with random + - * so the target is reachable; keep it positive and small.
    while True:
        order = rng.sample(numbers, size)
        value = order[0]
        for n in order[1:]:
            value = rng.choice((value + n, value * n, value - n, n - value))
        if 1 <= value <= 100:
            return {"numbers": numbers, "target": value}


_GENERATORS = {"arithmetic": _arithmetic, "word": _word, "logic": _logic, "countdown": _countdown}


def generate(task: str, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` problems of `task` with ids `task-seed-i`; the same (task, n, seed), the same list."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    rng = random.Random(f"{task}:{seed}")  # a string seed: independent streams per task
    return [{"id": f"{task}-{seed}-{i}", **_GENERATORS[task](rng)} for i in range(n)]


# Two worked examples as earlier chat turns: without them SmolLM2-135M states the result in prose
# and almost never writes the <answer> tags, so every strategy would score 0 by parse failure.
_NUMERIC_SHOTS = (("What is 2 + 3 * 4?", "3 * 4 = 12. 2 + 12 = 14.", "14"),
                  ("What is (5 + 1) * 3?", "5 + 1 = 6. 6 * 3 = 18.", "18"))
_COUNTDOWN_SHOTS = (({"numbers": [2, 3, 4], "target": 20}, "2 + 3 = 5. 5 * 4 = 20.",
                     "(2 + 3) * 4"),
                    ({"numbers": [6, 1, 5], "target": 25}, "6 - 1 = 5. 5 * 5 = 25.",
                     "(6 - 1) * 5"))


def _question(task: str, problem: dict[str, Any]) -> str:
    if task in NUMERIC_TASKS:
        return problem["question"]
    nums = ", ".join(str(n) for n in problem["numbers"])
    return (f"Using the numbers {nums} exactly once each, with + - * / and parentheses, "
            f"make {problem['target']}.")


def prompt_messages(task: str, problem: dict[str, Any], *, cot: bool) -> list[dict[str, str]]:
    """Chat messages for a problem: two worked examples, then the question. `cot` asks for the
    steps first; direct asks for the answer alone (and its examples show no steps)."""
    what = "NUMBER" if task in NUMERIC_TASKS else "EXPRESSION"
    how = ("Think step by step, then write" if cot else "Write only") + \
        f" the final answer as <answer>{what}</answer>."
    shots = _NUMERIC_SHOTS if task in NUMERIC_TASKS else _COUNTDOWN_SHOTS
    messages = []
    for shot, steps, answer in shots:
        question = shot if task in NUMERIC_TASKS else _question(task, shot)
        messages.append({"role": "user", "content": f"{question} {how}"})
        body = f"{steps} <answer>{answer}</answer>" if cot else f"<answer>{answer}</answer>"
        messages.append({"role": "assistant", "content": body})
    messages.append({"role": "user", "content": f"{_question(task, problem)} {how}"})
    return messages
