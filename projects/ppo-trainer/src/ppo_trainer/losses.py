"""Every loss term of PPO, GRPO and RLOO as a pure tensor function, testable on fixed tensors.

Shapes: B sequences, T response tokens; `mask` (B, T) is 1 on real response tokens, 0 on padding.
Nothing here touches a model: the trainers (ppo.py, grpo.py) call these on log-probabilities and
values they computed. Leaves out token-level reward shaping beyond the KL penalty (no length or
missing-EOS penalty) and sequence-level importance sampling (GSPO).

Exercised by `uv run --package ppo-trainer pytest tests/test_losses.py`, which pins each function
to a hand-worked value and, where TRL exposes the same function, to TRL's result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

KL_ESTIMATORS = ("k1", "k2", "k3")


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `x` where mask is 1. [[1, 2, 9]] with mask [[1, 1, 0]] -> 1.5"""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of `x` where mask is 1, with Bessel's correction by default (as TRL's PPO did)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        var = var * n / (n - 1).clamp(min=1.0)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over the masked entries; `shift_mean=False` keeps the mean (for rewards)."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened


def selective_log_softmax(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[index] without materialising the full log-softmax twice.

    logits (B, T, V), index (B, T) -> (B, T)."""
    picked = torch.gather(logits, -1, index.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return picked - torch.logsumexp(logits, dim=-1)  # (B, T)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution at each position: (B, T, V) -> (B, T).

    H = logsumexp(z) - sum softmax(z) * z; uniform logits over V give log V."""
    probs = F.softmax(logits, dim=-1)  # (B, T, V)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(-1)  # (B, T)


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from samples of pi (Schulman's k1/k2/k3).

    With log r = logp - ref_logp: k1 = log r (unbiased, can be negative), k2 = (log r)^2 / 2,
    k3 = exp(-log r) - 1 + log r (unbiased and >= 0; what GRPO uses). log r = 0.5 ->
    k1 0.5, k2 0.125, k3 exp(-0.5) - 0.5 = 0.10653."""
    log_ratio = logp - ref_logp  # (B, T)
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.exp(-log_ratio) - 1 + log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; use one of {KL_ESTIMATORS}")


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
                lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over right-padded responses.

    delta_t = r_t + gamma V_{t+1} - V_t and A_t = delta_t + gamma lam A_{t+1}, with V and A zero
    after the last real token (the episode ends there). Returns (advantages, returns = A + V), both
    (B, T) and zero on padding."""
    mask = mask.to(values.dtype)
    values = values * mask  # (B, T) the value after the end is 0: terminal state
    rewards = rewards * mask  # (B, T)
    T = rewards.size(1)
    last = torch.zeros_like(rewards[:, 0])  # (B,) A_{t+1}
    reversed_advantages = []
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)  # (B,)
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        last = delta + gamma * lam * last  # (B,)
        reversed_advantages.append(last)
    advantages = torch.stack(reversed_advantages[::-1], dim=1) * mask  # (B, T)
    return advantages, (advantages + values) * mask


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> torch.Tensor:
    """PPO-RLHF reward per token: -kl_coef * KL_t everywhere, plus the sequence score on the last
    real token. scores (B,), kl (B, T), mask (B, T) -> (B, T)."""
    rewards = -kl_coef * kl * mask  # (B, T)
    last = (mask.sum(1).long() - 1).clamp(min=0)  # (B,) index of the last response token
    rewards[torch.arange(rewards.size(0)), last] += scores  # (B, T)
    return rewards


@dataclass
class PolicyLossOutput:
    loss: torch.Tensor
    clip_frac: torch.Tensor
    approx_kl: torch.Tensor


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                        mask: torch.Tensor, clip_low: float = 0.2, clip_high: float | None = None,
                        aggregate: str = "token") -> PolicyLossOutput:
    """PPO's clipped surrogate: mean of max(-A r, -A clip(r, 1-eps_low, 1+eps_high)).

    advantages are (B, T) per token (PPO) or (B,) per sequence (GRPO/RLOO, broadcast over T).
    aggregate 'token' averages over all real tokens of the batch (PPO, TRL's 'bnpo'); 'sequence'
    averages each sequence then the batch (the GRPO paper, TRL's loss_type='grpo')."""
    clip_high = clip_low if clip_high is None else clip_high
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)  # (B, 1)
    log_ratio = logp - old_logp  # (B, T)
    ratio = torch.exp(log_ratio)  # (B, T)
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)  # (B, T)
    per_token = torch.maximum(unclipped, clipped)  # (B, T)
    loss = aggregate_loss(per_token, mask, aggregate)
    with torch.no_grad():
        clip_frac = masked_mean((clipped > unclipped).to(logp.dtype), mask)
        approx_kl = masked_mean(0.5 * log_ratio**2, mask)
    return PolicyLossOutput(loss, clip_frac, approx_kl)


def aggregate_loss(per_token: torch.Tensor, mask: torch.Tensor, aggregate: str) -> torch.Tensor:
    """'token': sum over real tokens / their count; 'sequence': per-sequence mean, then mean."""
    if aggregate == "token":
        return masked_mean(per_token, mask)
    if aggregate == "sequence":
        return masked_mean(per_token, mask, dim=1).mean()
    raise ValueError(f"unknown aggregate {aggregate!r}; use 'token' or 'sequence'")


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor, clip: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """0.5 * mean max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2), and the clip fraction."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)  # (B, T)
    loss_unclipped = (values - returns) ** 2  # (B, T)
    loss_clipped = (clipped_values - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    with torch.no_grad():
        clip_frac = masked_mean((loss_clipped > loss_unclipped).to(values.dtype), mask)
    return loss, clip_frac


def grpo_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group",
                    eps: float = 1e-4) -> torch.Tensor:
    """(r - mean of its group) / (std of its group + eps); groups are consecutive runs of
    `group_size`. scale 'none' skips the division (Dr. GRPO); 'batch' uses the batch std.
    [1, 0, 0, 0] with group 4 -> [0.75, -0.25, -0.25, -0.25] / (0.5 + 1e-4)."""
    if group_size < 2:
        raise ValueError(f"group size must be >= 2 for group advantages (got {group_size})")
    grouped = rewards.view(-1, group_size)  # (B/G, G)
    centered = (grouped - grouped.mean(1, keepdim=True)).view(-1)  # (B,)
    if scale == "none":
        return centered
    if scale == "group":
        std = grouped.std(1, keepdim=True).expand_as(grouped).reshape(-1)  # (B,) Bessel, as TRL
    elif scale == "batch":
        std = rewards.std().expand_as(rewards)  # (B,)
    else:
        raise ValueError(f"unknown scale {scale!r}; use 'group', 'batch' or 'none'")
    return centered / (std + eps)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """REINFORCE leave-one-out: r_i - mean of the other G-1 rewards of its group.
    [1, 0, 0, 0] -> [1, -1/3, -1/3, -1/3]."""
    if group_size < 2:
        raise ValueError(f"group size must be >= 2 for a leave-one-out baseline (got {group_size})")
    grouped = rewards.view(-1, group_size)  # (B/G, G)
    baseline = (grouped.sum(1, keepdim=True) - grouped) / (group_size - 1)  # (B/G, G)
    return (grouped - baseline).view(-1)  # (B,)


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor,
                       margin: torch.Tensor | None = None) -> torch.Tensor:
    """-log sigmoid(r_chosen - r_rejected [- margin]), averaged: the reward-model loss.
    Equal scores give log 2 = 0.6931."""
    diff = chosen - rejected  # (B,)
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff).mean()
