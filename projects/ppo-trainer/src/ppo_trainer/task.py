"""The embedded verifiable task: small additions whose answer must sit in <answer></answer> tags.

`ArithmeticTask(seed).batch(step, n)` gives the same n problems for the same (seed, step), so a
resumed run sees exactly the prompts the uninterrupted run saw. Prompts are chat messages with one
worked example turn (few-shot), which puts SmolLM2-135M-Instruct at a success rate that is neither 0
nor 1: a group of samples then has reward variance for GRPO to learn from. Leaves out datasets
from files (pass your own prompts through the library API). Exercised by `ppo-trainer demo`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SYSTEM = "You are a calculator. Reply with <answer>N</answer> only."
EXAMPLE = ("What is 3 + 4?", "<answer>7</answer>")


@dataclass(frozen=True)
class Problem:
    messages: tuple[dict[str, str], ...]
    answer: int


@dataclass
class ArithmeticTask:
    seed: int = 0
    low: int = 2  # NOTE: operands 2..19 keep sums two-digit at most; chosen by probing SmolLM2
    high: int = 19

    def problem(self, a: int, b: int) -> Problem:
        messages = (
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": EXAMPLE[0]},
            {"role": "assistant", "content": EXAMPLE[1]},
            {"role": "user", "content": f"What is {a} + {b}?"},
        )
        return Problem(messages, a + b)

    def batch(self, step: int, n: int) -> list[Problem]:
        """n problems drawn from a generator seeded by (seed, step): resumable and repeatable."""
        rng = random.Random(self.seed * 1_000_003 + step)
        return [self.problem(rng.randint(self.low, self.high), rng.randint(self.low, self.high))
                for _ in range(n)]

    def eval_set(self, n: int) -> list[Problem]:
        """A fixed held-out set (its own seed stream, never a training step's)."""
        rng = random.Random(-1 - self.seed)
        return [self.problem(rng.randint(self.low, self.high), rng.randint(self.low, self.high))
                for _ in range(n)]
