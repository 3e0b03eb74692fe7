"""Rule-based verifiable rewards, and the guard that stops a broken reward killing a run.

A reward function takes the decoded completions and the reference answers and returns one float
per completion: `fn(completions: list[str], answers: list) -> list[float]`. Built-ins:
- `correct`: 1.0 when the parser finds `<answer>N</answer>` and N equals the answer, else 0.0
  (a parse failure scores 0, never an exception);
- `format`: 1.0 when the whole completion is exactly one `<answer>integer</answer>`, else 0.0.
Any other name `package.module:function` is imported, so users plug in their own.

`score` sums weighted rewards and raises `RewardError` when a function raises, returns the wrong
number of values or a NaN/inf; the trainer catches it, counts the step as skipped and goes on.
Leaves out model-based rewards (reward_model.py). Exercised by tests/test_rewards.py.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Sequence

from llm_shared import UserError

RewardFn = Callable[[list[str], list], list[float]]

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_EXACT = re.compile(r"\s*<answer>\s*-?\d+\s*</answer>\s*")


class RewardError(RuntimeError):
    """A reward function failed on this batch; the step is skipped, not the run."""


def parse_answer(text: str) -> int | None:
    """The integer inside the first <answer></answer>, or None when there is none or it is not an
    integer. '<answer> 12 </answer>' -> 12; 'twelve' -> None; '<answer>1.5</answer>' -> None."""
    match = _ANSWER.search(text)
    if match is None:
        return None
    inner = match.group(1).strip()
    if not re.fullmatch(r"-?\d+", inner):
        return None
    return int(inner)


def correct_reward(completions: list[str], answers: list) -> list[float]:
    return [1.0 if parse_answer(c) == int(a) else 0.0 for c, a in zip(completions, answers,
                                                                       strict=True)]


def format_reward(completions: list[str], answers: list) -> list[float]:
    return [1.0 if _EXACT.fullmatch(c) else 0.0 for c in completions]


BUILTIN: dict[str, RewardFn] = {"correct": correct_reward, "format": format_reward}


def resolve_reward(name: str) -> RewardFn:
    """A built-in name or `module:function`; a bad name is a UserError that lists the choices."""
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        raise UserError(f"unknown reward '{name}'; use one of {sorted(BUILTIN)} or "
                        "package.module:function")
    module_name, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot import reward '{name}' ({exc}); check the module is importable "
                        "and defines the function") from exc
    if not callable(fn):
        raise UserError(f"reward '{name}' is not callable")
    return fn


def score(fns: Sequence[RewardFn], weights: Sequence[float], completions: list[str],
          answers: list) -> tuple[list[float], dict[str, float]]:
    """Weighted sum of the reward functions per completion, plus each function's mean.

    Raises RewardError (never anything else) when a function misbehaves."""
    totals = [0.0] * len(completions)
    means: dict[str, float] = {}
    for fn, weight in zip(fns, weights, strict=True):
        name = getattr(fn, "__name__", repr(fn))
        try:
            values = [float(v) for v in fn(completions, answers)]
        except Exception as exc:  # noqa: BLE001 - any failure of user code skips the step
            raise RewardError(f"reward {name} raised {type(exc).__name__}: {exc}") from exc
        if len(values) != len(completions):
            raise RewardError(f"reward {name} returned {len(values)} values for "
                              f"{len(completions)} completions")
        if not all(math.isfinite(v) for v in values):
            raise RewardError(f"reward {name} returned NaN or inf")
        means[name] = sum(values) / max(len(values), 1)
        totals = [t + weight * v for t, v in zip(totals, values, strict=True)]
    return totals, means
