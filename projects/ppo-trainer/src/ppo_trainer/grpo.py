"""One GRPO or RLOO update on a rollout batch: no value model, advantages from the group.

GRPO (Shao et al. 2024): A_i = (r_i - mean_group) / (std_group + eps), the same A for every token
of completion i, loss = clipped surrogate + beta * k3-KL to the frozen reference, each sequence
averaged over its tokens then over the batch (TRL's loss_type='grpo'). RLOO differs only in the
advantage: r_i minus the mean of the other G-1 rewards of its group. With one epoch and one
minibatch the old policy is the current one (ratio 1, as TRL skips that forward too).
Leaves out sequence-level importance sampling and off-policy masks. Exercised by
`ppo-trainer train --algo grpo` and tests/test_algorithms.py.
"""

from __future__ import annotations

from typing import Any

import torch

from .config import TrainConfig
from .losses import (
    aggregate_loss,
    clipped_policy_loss,
    grpo_advantages,
    kl_penalty,
    masked_mean,
    rloo_advantages,
)
from .policy import response_forward
from .rollout import Rollout


def group_advantages(config: TrainConfig, rewards: torch.Tensor) -> torch.Tensor:
    if config.algo == "rloo":
        return rloo_advantages(rewards, config.group_size)  # (B,)
    return grpo_advantages(rewards, config.group_size, config.scale_rewards)  # (B,)


def _forward(model: Any, rollout: Rollout, config: TrainConfig, with_entropy: bool) -> Any:
    return response_forward(model, rollout.prompt_ids, rollout.prompt_mask, rollout.response_ids,
                            rollout.response_mask, with_entropy=with_entropy,
                            temperature=config.temperature)


def grpo_update(config: TrainConfig, policy: Any, ref: Any | None, optimizer: torch.optim.Optimizer,
                rollout: Rollout, rewards: torch.Tensor) -> dict[str, float]:
    """Advantages, then ppo_epochs x num_minibatches clipped updates; returns the step's metrics."""
    N = rewards.numel()
    advantages = group_advantages(config, rewards)  # (N,)
    mask = rollout.response_mask.float()  # (N, T)
    on_policy = config.ppo_epochs == 1 and config.num_minibatches == 1
    with torch.no_grad():
        ref_logp = _forward(ref, rollout, config, False).logp if ref is not None else None
        old_logp = None if on_policy else _forward(policy, rollout, config, False).logp
    stats: dict[str, list[float]] = {"policy_loss": [], "kl": [], "entropy": [], "clip_frac": [],
                                     "approx_kl": [], "grad_norm": []}
    size = N // config.num_minibatches
    for _ in range(config.ppo_epochs):
        order = torch.randperm(N)
        for start in range(0, N, size):
            index = order[start:start + size]
            mb = rollout.select(index)
            fw = _forward(policy, mb, config, True)
            mb_mask = mask[index]  # (n, T)
            old = fw.logp.detach() if old_logp is None else old_logp[index]  # (n, T)
            pol = clipped_policy_loss(fw.logp, old, advantages[index], mb_mask, config.clip_range,
                                      config.clip_range_high, config.loss_aggregation)
            loss = pol.loss
            if ref_logp is not None and config.kl_coef > 0:
                kl = kl_penalty(fw.logp, ref_logp[index], config.kl_estimator)  # (n, T)
                loss = loss + config.kl_coef * aggregate_loss(kl, mb_mask, config.loss_aggregation)
                stats["kl"].append(masked_mean(kl, mb_mask).item())
            entropy = masked_mean(fw.entropy, mb_mask)
            if config.entropy_coef:
                loss = loss - config.entropy_coef * entropy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], config.max_grad_norm)
            optimizer.step()
            stats["policy_loss"].append(pol.loss.item())
            stats["entropy"].append(entropy.item())
            stats["clip_frac"].append(pol.clip_frac.item())
            stats["approx_kl"].append(pol.approx_kl.item())
            stats["grad_norm"].append(float(norm))
    out = {k: sum(v) / len(v) for k, v in stats.items() if v}
    out["advantage_abs_mean"] = advantages.abs().mean().item()
    zero_std = rewards.view(-1, config.group_size).std(1) == 0  # (B/G,) groups without signal
    out["frac_zero_std_groups"] = zero_std.float().mean().item()
    return out
