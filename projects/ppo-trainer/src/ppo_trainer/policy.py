"""The policy forward pass: per-token log-probs, entropies and (for PPO) values of a response.

A rollout is a left-padded prompt (B, P) followed by a right-padded response (B, T). The hidden
state at position P-1+t predicts response token t, so one forward over the concatenation gives
log pi(y_t | x, y_<t) for every t; the LM head runs only on those T positions (projecting every
prompt position onto the 49k-token vocabulary would be wasted work).

`ValueHead` is PPO's critic: a linear layer on the same hidden states (a shared backbone, as TRL's
AutoModelForCausalLMWithValueHead). Leaves out a separate critic network. Exercised by
tests/test_rollout.py (log-probs equal transformers' own logits at the same positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .losses import entropy_from_logits, selective_log_softmax


class ValueHead(nn.Module):
    """hidden (B, T, C) -> value (B, T). Zero-initialised so the first values are 0, not noise."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.summary.weight)
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden).squeeze(-1)  # (B, T)


@dataclass
class Forward:
    logp: torch.Tensor  # (B, T) log-prob of each response token
    entropy: torch.Tensor | None  # (B, T)
    values: torch.Tensor | None  # (B, T)


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding, as HF generate computes them: [0,0,1,1] -> [0,0,0,1]."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, P+T)


def response_forward(model: nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                     response_ids: torch.Tensor, response_mask: torch.Tensor, *,
                     value_head: ValueHead | None = None, with_entropy: bool = False,
                     temperature: float = 1.0) -> Forward:
    """One forward of a causal LM over prompt + response; log-probs of the response tokens.

    `temperature` divides the logits: the log-probs of the distribution that was sampled."""
    input_ids = torch.cat([prompt_ids, response_ids], dim=1)  # (B, P+T)
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)  # (B, P+T)
    P, T = prompt_ids.size(1), response_ids.size(1)
    backbone = model.base_model  # the decoder without its LM head
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=position_ids_from_mask(attention_mask),
                      use_cache=False).last_hidden_state  # (B, P+T, C)
    hidden = hidden[:, P - 1:P - 1 + T]  # (B, T, C) states that predict the response tokens
    logits = model.get_output_embeddings()(hidden).float() / temperature  # (B, T, V)
    logp = selective_log_softmax(logits, response_ids)  # (B, T)
    entropy = entropy_from_logits(logits) if with_entropy else None  # (B, T)
    values = value_head(hidden.float()) if value_head is not None else None  # (B, T) fp32 head
    return Forward(logp, entropy, values)
