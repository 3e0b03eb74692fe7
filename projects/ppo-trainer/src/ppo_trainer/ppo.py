"""One PPO-RLHF update on a rollout batch (Ouyang et al. 2022; TRL's former PPOTrainer recipe).

1. With no gradient: log-probs and values of the sampled responses under the current policy
   (these are "old" for the whole update) and log-probs under the frozen reference.
2. Reward per token: -beta * KL_t (k1/k2/k3 estimator), plus the sequence score on the last token.
3. GAE over the response (gamma, lambda), returns = A + V, advantages whitened over the batch.
4. ppo_epochs x num_minibatches steps of: clipped policy loss + vf_coef * clipped value loss
   - entropy_coef * entropy.
5. beta follows the adaptive controller (or stays fixed) using the batch's mean sequence KL.
Leaves out reward whitening, the missing-EOS penalty and a separate critic network. Exercised by
`ppo-trainer train --algo ppo` and tests/test_algorithms.py.
"""

from __future__ import annotations

from typing import Any

import torch

from .config import TrainConfig
from .kl_control import AdaptiveKLController, FixedKLController
from .losses import (
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    kl_penalty,
    masked_mean,
    masked_whiten,
    token_rewards,
)
from .policy import ValueHead, response_forward
from .rollout import Rollout


def ppo_update(config: TrainConfig, policy: Any, value_head: ValueHead, ref: Any | None,
               optimizer: torch.optim.Optimizer, rollout: Rollout, scores: torch.Tensor,
               kl_ctl: FixedKLController | AdaptiveKLController) -> dict[str, float]:
    """Everything from old log-probs to the KL controller update; returns the step's metrics."""
    mask = rollout.response_mask.float()  # (N, T)
    N = mask.size(0)

    def forward(model: Any, batch: Rollout, head: ValueHead | None, entropy: bool) -> Any:
        return response_forward(model, batch.prompt_ids, batch.prompt_mask, batch.response_ids,
                                batch.response_mask, value_head=head, with_entropy=entropy,
                                temperature=config.temperature)

    with torch.no_grad():
        old = forward(policy, rollout, value_head, False)
        old_logp, old_values = old.logp, old.values  # (N, T), (N, T)
        ref_logp = forward(ref, rollout, None, False).logp if ref is not None else old_logp
        kl = kl_penalty(old_logp, ref_logp, config.kl_estimator) * mask  # (N, T)
        rewards = token_rewards(scores, kl, mask, kl_ctl.value)  # (N, T)
        advantages, returns = compute_gae(rewards, old_values, mask, config.gamma, config.lam)
        if config.whiten_advantages:
            advantages = masked_whiten(advantages, mask) * mask  # (N, T)
    stats: dict[str, list[float]] = {k: [] for k in (
        "policy_loss", "value_loss", "entropy", "clip_frac", "value_clip_frac", "approx_kl",
        "grad_norm")}
    size = N // config.num_minibatches
    for _ in range(config.ppo_epochs):
        order = torch.randperm(N)
        for start in range(0, N, size):
            index = order[start:start + size]
            mb_mask = mask[index]  # (n, T)
            fw = forward(policy, rollout.select(index), value_head, True)
            pol = clipped_policy_loss(fw.logp, old_logp[index], advantages[index], mb_mask,
                                      config.clip_range, config.clip_range_high, "token")
            vf_loss, vf_clip = clipped_value_loss(fw.values, old_values[index], returns[index],
                                                  mb_mask, config.clip_range_value)
            entropy = masked_mean(fw.entropy, mb_mask)
            loss = pol.loss + config.vf_coef * vf_loss - config.entropy_coef * entropy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], config.max_grad_norm)
            optimizer.step()
            for key, value in (("policy_loss", pol.loss), ("value_loss", vf_loss),
                               ("entropy", entropy), ("clip_frac", pol.clip_frac),
                               ("value_clip_frac", vf_clip), ("approx_kl", pol.approx_kl)):
                stats[key].append(value.item())
            stats["grad_norm"].append(float(norm))
    sequence_kl = kl.sum(1).mean().item()  # mean over sequences of the summed per-token KL
    out = {k: sum(v) / len(v) for k, v in stats.items()}
    out.update(kl=masked_mean(kl, mask).item(), sequence_kl=sequence_kl, kl_coef=kl_ctl.value,
               value_mean=masked_mean(old_values, mask).item(),
               return_mean=masked_mean(returns, mask).item())
    kl_ctl.update(sequence_kl, N)
    return out
