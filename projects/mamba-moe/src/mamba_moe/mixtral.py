"""A Mixtral language model (RMSNorm, RoPE, GQA attention, MoE feed-forward) with the state-dict
keys of transformers' `MixtralForCausalLM`, and a KV cache for greedy generation.

One expert with top-1 routing is exactly a dense SwiGLU transformer, which is how `train --arch
transformer` builds its baseline (so every trained model is a folder transformers can load too).
Leaves out: sliding-window attention and RoPE scaling types other than "default" (refused on
load), attention dropout and router jitter (training-only noise in transformers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .mamba import RMSNorm
from .moe import MoE, MoEConfig, RouterStats


@dataclass
class MixtralConfig:
    vocab_size: int
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    num_local_experts: int = 4
    num_experts_per_tok: int = 2
    rms_norm_eps: float = 1e-5
    rope_theta: float = 1e6
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    router_aux_loss_coef: float = 0.001
    # routing options beyond Mixtral (kept in config.json; transformers ignores them)
    capacity_factor: float = 0.0
    gating: str = "softmax"
    head_dim: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.head_dim = self.head_dim or self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    NAMES = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
             "num_attention_heads", "num_key_value_heads", "num_local_experts",
             "num_experts_per_tok", "rms_norm_eps", "max_position_embeddings",
             "tie_word_embeddings", "router_aux_loss_coef", "capacity_factor", "gating",
             "head_dim")

    @classmethod
    def from_hf(cls, cfg: dict[str, Any]) -> MixtralConfig:
        if cfg.get("sliding_window") is not None:
            raise ValueError("Mixtral sliding_window attention is not implemented; "
                             "only configs with sliding_window: null")
        rope = cfg.get("rope_parameters") or {}
        if rope.get("rope_type", "default") != "default" or cfg.get("rope_scaling"):
            raise ValueError(f"RoPE type {rope.get('rope_type')!r} is not implemented "
                             "(only 'default')")
        if cfg.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {cfg['hidden_act']!r} is not implemented (only silu)")
        theta = rope.get("rope_theta", cfg.get("rope_theta", 1e6))
        known = {k: cfg[k] for k in cls.NAMES if k in cfg}
        skip = set(cls.NAMES) | {"rope_parameters", "rope_theta"}
        return cls(**known, rope_theta=theta, extra={k: v for k, v in cfg.items()
                                                     if k not in skip})

    def to_hf(self) -> dict[str, Any]:
        out = {**self.extra, "architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
               "hidden_act": "silu", "sliding_window": None,
               "rope_parameters": {"rope_theta": self.rope_theta, "rope_type": "default"}}
        out.update({k: getattr(self, k) for k in self.NAMES})
        return out

    def moe(self) -> MoEConfig:
        return MoEConfig(self.hidden_size, self.intermediate_size, self.num_local_experts,
                         self.num_experts_per_tok, gating=self.gating,
                         capacity_factor=self.capacity_factor)


def rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate-half RoPE (the Llama/Mixtral layout); x: (Bt, H, T, hd), positions: (T,)."""
    hd = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float) / hd))  # (hd/2,)
    angles = positions.float()[:, None] * inv_freq  # (T, hd/2)
    emb = torch.cat([angles, angles], dim=-1)  # (T, hd)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, cfg: MixtralConfig) -> None:
        super().__init__()
        self.cfg = cfg
        H, KV, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, H * hd, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, KV * hd, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, KV * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, cache: list[torch.Tensor] | None) -> torch.Tensor:
        """x: (Bt, T, d); cache: [k, v] of earlier positions (updated in place) or None."""
        Bt, T, _ = x.shape
        cfg, hd = self.cfg, self.cfg.head_dim
        q = self.q_proj(x).view(Bt, T, -1, hd).transpose(1, 2)  # (Bt, H, T, hd)
        k = self.k_proj(x).view(Bt, T, -1, hd).transpose(1, 2)  # (Bt, KV, T, hd)
        v = self.v_proj(x).view(Bt, T, -1, hd).transpose(1, 2)  # (Bt, KV, T, hd)
        past = cache[0].shape[2] if cache else 0
        pos = torch.arange(past, past + T, device=x.device)
        q, k = rope(q, pos, cfg.rope_theta), rope(k, pos, cfg.rope_theta)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        rep = cfg.num_attention_heads // cfg.num_key_value_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)  # (Bt, H, S, hd)
        # a query at position past+i sees keys 0…past+i: plain causal mask when past == 0
        mask = None if past == 0 else torch.ones(T, past + T, dtype=torch.bool,
                                                  device=x.device).tril(past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past == 0 and T > 1)
        return self.o_proj(y.transpose(1, 2).reshape(Bt, T, -1))  # (Bt, T, d)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: MixtralConfig) -> None:
        super().__init__()
        self.self_attn = Attention(cfg)
        self.block_sparse_moe = MoE(cfg.moe())
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class MixtralBody(nn.Module):
    def __init__(self, cfg: MixtralConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class MixtralLM(nn.Module):
    """Keys match `MixtralForCausalLM`: model.layers.{i}.block_sparse_moe.experts.{j}.w1 …"""

    def __init__(self, cfg: MixtralConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = MixtralBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        nn.init.normal_(self.model.embed_tokens.weight, std=0.02)  # as transformers' init
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids: torch.Tensor, cache: list[list[torch.Tensor]] | None = None
                ) -> tuple[torch.Tensor, list[RouterStats]]:
        """ids: (Bt, T) -> logits (Bt, T, V) float32 and each layer's router stats."""
        h = self.model.embed_tokens(ids)  # (Bt, T, d)
        stats = []
        for i, layer in enumerate(self.model.layers):
            h = h + layer.self_attn(layer.input_layernorm(h), cache[i] if cache else None)
            out, s = layer.block_sparse_moe(layer.post_attention_layernorm(h))
            h = h + out
            stats.append(s)
        return self.lm_head(self.model.norm(h)).float(), stats

    @torch.no_grad()
    def generate(self, ids: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, int]:
        """Greedy with a KV cache. Returns (new ids (Bt, n), bytes of KV cache at the end)."""
        cache: list[list[torch.Tensor]] = [[] for _ in self.model.layers]
        logits, _ = self.forward(ids, cache)
        token = logits[:, -1].argmax(-1)  # (Bt,)
        out = [token]
        for _ in range(max_new_tokens - 1):
            logits, _ = self.forward(token[:, None], cache)
            token = logits[:, -1].argmax(-1)
            out.append(token)
        return torch.stack(out, dim=1), sum(t.nbytes for layer in cache for t in layer)
