"""Greedy evaluation on held-out prompts: the reward a run reports before and after training.

Greedy decoding makes the figure deterministic for given weights, so before/after differences are
the training's, not the sampler's. Reward functions that fail here count as reward 0 with the
failure named (evaluation must not kill a finished run). Used by the trainer, `demo` and `bench`.
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
             max_prompt_tokens: int, device: torch.device) -> dict[str, Any]:
    """Mean reward (the training reward's rule part), accuracy and format rate, greedy."""
    generator = HFGenerator(model, tokenizer.eos_token_id, tokenizer.pad_token_id)
    rollout = make_rollout(generator, tokenizer, [p.messages for p in problems],
                           [p.answer for p in problems], group_size=1,
                           max_prompt_tokens=max_prompt_tokens, max_new_tokens=max_new_tokens,
                           temperature=0.0, top_p=1.0, device=device)
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
