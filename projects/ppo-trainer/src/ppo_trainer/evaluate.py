"""Held-out evaluation: the reward a run reports before and after training.

The held-out prompts are fixed; completions are sampled at the training temperature (or greedy with
temperature 0) from a seeded generator inside `torch.random.fork_rng`, so the figure is repeatable
for given weights and evaluation never shifts the training run's random stream. Reward functions
that fail here count as reward 0 with the failure named (evaluation must not kill a finished run).
Used by the trainer, `demo` and `bench`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .rewards import RewardError, RewardFn, correct_reward, format_reward, score
from .rollout import HFGenerator, make_rollout
from .task import Problem


def evaluate(model: Any, tokenizer: Any, problems: Sequence[Problem],
             reward_fns: Sequence[RewardFn], weights: Sequence[float], max_new_tokens: int,
             max_prompt_tokens: int, device: torch.device, *, samples: int = 1,
             temperature: float = 0.0, seed: int = 0) -> dict[str, Any]:
    """Mean reward (the rule part of the training reward), accuracy and format rate."""
    generator = HFGenerator(model, tokenizer.eos_token_id, tokenizer.pad_token_id)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed + 12345)
        rollout = make_rollout(generator, tokenizer, [p.messages for p in problems],
                               [p.answer for p in problems], group_size=samples,
                               max_prompt_tokens=max_prompt_tokens,
                               max_new_tokens=max_new_tokens, temperature=temperature, top_p=1.0,
                               device=device)
    answers = rollout.answers
    out: dict[str, Any] = {
        "accuracy": sum(correct_reward(rollout.completions, answers)) / len(answers),
        "format_rate": sum(format_reward(rollout.completions, answers)) / len(answers),
        "sample": rollout.completions[0],
    }
    try:
        totals, _ = score(reward_fns, weights, rollout.completions, answers)
        out["reward"] = sum(totals) / len(totals)
    except RewardError as exc:
        out["reward"], out["reward_error"] = 0.0, str(exc)
    return out
