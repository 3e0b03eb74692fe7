"""Mixture-of-Experts layer with routing you can inspect: counts per expert, drops, aux losses.

`MoE(x)` returns the mixed expert outputs and a `RouterStats` (router logits, kept assignments per
expert, dropped assignments and tokens). Options:
- gating "softmax" (Mixtral, Switch) or "sigmoid" (DeepSeek-V3 style scores); the top-k weights
  are renormalised to sum to 1;
- routing "token" (each token picks its top-k experts) or "expert" (each expert picks its top-C
  tokens; Zhou et al. 2022: balanced by construction, but it looks at the whole batch, so it is
  not causal: use it for encoders or analysis, not for autoregressive decoding);
- capacity_factor > 0 caps each expert at ceil(cf * T * k / E) assignments; an assignment over the
  cap is dropped, and a token whose every assignment is dropped gets a zero MoE output, so the
  decoder's residual passes it through unchanged (Switch Transformer);
- a shared expert (always on, DeepSeekMoE) added to the routed output.
Losses: `load_balancing_loss` equals transformers' `load_balancing_loss_func` (Switch eq. 4-6,
counts and mean probabilities pooled over layers), `router_z_loss` is ST-MoE's mean logsumexp².
Expert weights are per-expert w1 (gate), w3 (up), w2 (down): Mixtral's saved key names.

Leaves out: expert parallelism, megablocks' block-sparse grouped GEMM (we loop over experts), and
router jitter noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MoEConfig:
    hidden_size: int
    intermediate_size: int
    num_experts: int = 4
    top_k: int = 2
    gating: Literal["softmax", "sigmoid"] = "softmax"
    routing: Literal["token", "expert"] = "token"
    capacity_factor: float = 0.0  # 0 = no cap (Mixtral inference)
    shared_expert_size: int = 0  # 0 = no shared expert

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError(f"top_k must be in 1…{self.num_experts} (got {self.top_k})")
        if self.gating not in ("softmax", "sigmoid") or self.routing not in ("token", "expert"):
            raise ValueError(f"unknown gating {self.gating!r} or routing {self.routing!r}")


@dataclass
class RouterStats:
    logits: torch.Tensor  # (T, E) router logits, float32
    counts: torch.Tensor  # (E,) assignments each expert actually processed
    dropped_assignments: int
    dropped_tokens: int  # tokens with no kept assignment (pure residual pass-through)
    tokens: int


class Expert(nn.Module):
    """SwiGLU feed-forward: w2(silu(w1 x) * w3 x)."""

    def __init__(self, d: int, f: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d, f, bias=False)
        self.w2 = nn.Linear(f, d, bias=False)
        self.w3 = nn.Linear(d, f, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def capacity(tokens: int, cfg: MoEConfig) -> int:
    """Assignments one expert may take: ceil(cf * T * k / E); e.g. T=8, k=2, E=4, cf=1 -> 4."""
    return math.ceil(cfg.capacity_factor * tokens * cfg.top_k / cfg.num_experts)


def keep_within_capacity(expert_of: torch.Tensor, num_experts: int, cap: int) -> torch.Tensor:
    """Mask of assignments kept when each expert serves at most `cap`, first come first served.

    expert_of: (A,) expert of each assignment in priority order. [0, 0, 1, 0] with cap 2 ->
    [True, True, True, False].
    """
    onehot = F.one_hot(expert_of, num_experts)  # (A, E)
    position = (onehot.cumsum(0) * onehot).sum(-1) - 1  # (A,) 0-based slot in its expert
    return position < cap


class MoE(nn.Module):
    def __init__(self, cfg: MoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gate = nn.Linear(cfg.hidden_size, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList(Expert(cfg.hidden_size, cfg.intermediate_size)
                                     for _ in range(cfg.num_experts))
        self.shared_expert = (Expert(cfg.hidden_size, cfg.shared_expert_size)
                              if cfg.shared_expert_size else None)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(-1) if self.cfg.gating == "softmax" else logits.sigmoid()

    def route(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(T, E) logits -> flat assignments (token, expert, weight), priority-ordered."""
        cfg, T = self.cfg, logits.shape[0]
        probs = self.scores(logits)  # (T, E)
        if cfg.routing == "expert":
            C = min(T, max(1, capacity(T, cfg) if cfg.capacity_factor else
                           math.ceil(T * cfg.top_k / cfg.num_experts)))
            weight, token = probs.t().topk(C, dim=-1)  # (E, C) each expert's favourite tokens
            expert = torch.arange(cfg.num_experts, device=logits.device).repeat_interleave(C)
            return token.reshape(-1), expert, weight.reshape(-1)
        weight, expert = probs.topk(cfg.top_k, dim=-1)  # (T, k)
        weight = weight / weight.sum(-1, keepdim=True)
        # first choices of all tokens outrank any second choice when capacity is short (Switch)
        token = torch.arange(T, device=logits.device).repeat(cfg.top_k)  # (T*k,) k-major
        expert, weight = expert.t().reshape(-1), weight.t().reshape(-1)
        if cfg.capacity_factor > 0:
            keep = keep_within_capacity(expert, cfg.num_experts, capacity(T, cfg))
            token, expert, weight = token[keep], expert[keep], weight[keep]
        return token, expert, weight

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, RouterStats]:
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (T, d)
        T = x.shape[0]
        logits = self.gate(x).float()  # (T, E)
        token, expert, weight = self.route(logits)
        out = torch.zeros_like(x)  # (T, d): dropped tokens stay zero -> residual pass-through
        order = torch.argsort(expert, stable=True)  # group assignments by expert once
        token, expert, weight = token[order], expert[order], weight[order]
        counts = torch.bincount(expert, minlength=self.cfg.num_experts)  # (E,)
        start = 0
        for e, n in enumerate(counts.tolist()):
            if n:
                rows = token[start:start + n]
                y = self.experts[e](x[rows]) * weight[start:start + n, None].to(x.dtype)
                out.index_add_(0, rows, y)
                start += n
        if self.shared_expert is not None:
            out = out + self.shared_expert(x)
        served = torch.zeros(T, dtype=torch.bool, device=x.device)
        served[token] = True
        wanted = T * self.cfg.top_k
        stats = RouterStats(logits=logits, counts=counts.detach(),
                            dropped_assignments=max(0, wanted - int(counts.sum())),
                            dropped_tokens=int(T - served.sum()), tokens=T)
        return out.reshape(shape), stats


def load_balancing_loss(router_logits: list[torch.Tensor], num_experts: int, top_k: int
                        ) -> torch.Tensor:
    """N · Σ_i f_i · P_i with f_i = top-k assignments to expert i per token and P_i its mean
    softmax probability, both pooled over the layers given (as transformers computes it)."""
    counts = torch.zeros(num_experts, device=router_logits[0].device)
    prob_sum = torch.zeros(num_experts, device=router_logits[0].device)
    rows = 0
    for logits in router_logits:
        probs = logits.float().softmax(-1)  # (T, E)
        chosen = probs.topk(top_k, dim=-1).indices  # (T, k)
        counts = counts + torch.bincount(chosen.reshape(-1), minlength=num_experts).float()
        prob_sum = prob_sum + probs.sum(0)
        rows += logits.shape[0]
    return num_experts * torch.sum((counts / rows) * (prob_sum / rows))


def router_z_loss(router_logits: list[torch.Tensor]) -> torch.Tensor:
    """ST-MoE: mean over tokens (and layers) of logsumexp(logits)²; keeps router logits small."""
    return torch.stack([torch.logsumexp(lg.float(), -1).pow(2).mean() for lg in router_logits]
                       ).mean()
