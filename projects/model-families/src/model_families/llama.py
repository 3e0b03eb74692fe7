"""Llama: decoder-only, pre-RMSNorm, rotary positions (half-rotation layout), GQA, SwiGLU.

What changed from GPT-2: LayerNorm -> RMSNorm (no mean, no bias); learned positions -> RoPE applied
to q and k inside attention; fewer key/value heads than query heads; the MLP gains a gate
(silu(gate(x)) * up(x)); no biases anywhere; the LM head may or may not share the embedding.
Loads `LlamaForCausalLM` folders (and `mistral` ones without a sliding window). Refuses: RoPE
scaling of any kind, partial rotary, q/k/v or MLP biases, sliding windows, other activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checkpoint import load_weights, need, refuse
from .layers import KVCache, activation, attend, merge_heads, split_heads

# HF name -> ours, applied in order (see checkpoint.rename).
RENAMES = [
    (r"^model\.", ""),
    (r"rotary_emb\.inv_freq$", None),  # a buffer some old checkpoints saved; we recompute it
    (r"embed_tokens", "embed"),
    (r"input_layernorm", "attn_norm"),
    (r"post_attention_layernorm", "mlp_norm"),
    (r"self_attn", "attn"),
    (r"\.(q|k|v|o|gate|up|down)_proj\.", r".\1."),
    (r"^lm_head\.", "head."),
]


@dataclass
class LlamaConfig:
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    rope_theta: float
    eps: float
    act: str
    tie_embeddings: bool

    @classmethod
    def from_hf(cls, c: dict[str, Any]) -> LlamaConfig:
        if c.get("model_type") == "mistral" and c.get("sliding_window") is not None:
            raise refuse("sliding_window", c["sliding_window"], "null (full attention)")
        for option in ("attention_bias", "mlp_bias"):
            if c.get(option):
                raise refuse(option, c[option], "false")
        if c.get("rope_scaling"):
            raise refuse("rope_scaling", c["rope_scaling"], "null")
        rope = c.get("rope_parameters") or {}
        if rope.get("rope_type", "default") != "default":
            raise refuse("rope_parameters.rope_type", rope["rope_type"], "'default'")
        partial = rope.get("partial_rotary_factor", c.get("partial_rotary_factor", 1.0))
        if partial not in (None, 1, 1.0):
            raise refuse("partial_rotary_factor", partial, "1.0")
        if c.get("pretraining_tp", 1) != 1:
            raise refuse("pretraining_tp", c["pretraining_tp"], "1")
        d, heads = need(c, "hidden_size"), need(c, "num_attention_heads")
        theta = rope.get("rope_theta", c.get("rope_theta", 10000.0))
        return cls(vocab_size=need(c, "vocab_size"), d_model=d,
                   n_layers=need(c, "num_hidden_layers"), n_heads=heads,
                   n_kv_heads=c.get("num_key_value_heads") or heads,
                   head_dim=c.get("head_dim") or d // heads,
                   d_ff=need(c, "intermediate_size"), rope_theta=float(theta),
                   eps=c.get("rms_norm_eps", 1e-6), act=c.get("hidden_act", "silu"),
                   tie_embeddings=c.get("tie_word_embeddings", False))


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, in float32 (the sum of squares overflows in fp16)."""

    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF's layout: pairs are (i, i + hs/2), not (2i, 2i+1) as in Meta's original complex form.

    [x1, x2, x3, x4] -> [-x3, -x4, x1, x2]
    """
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope_angles(positions: torch.Tensor, head_dim: int, theta: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position * theta^(-2i/hs), duplicated to the full head width."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = positions.float()[:, None] * inv_freq[None, :]  # (T, hs/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, hs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin  # (B, nh, T, hs)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads = cfg.n_heads, cfg.n_kv_heads
        self.q = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=False)
        self.k = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                cache: KVCache | None, layer: int) -> torch.Tensor:
        q = apply_rope(split_heads(self.q(x), self.n_heads), cos, sin)  # (B, nh, T, hs)
        k = apply_rope(split_heads(self.k(x), self.n_kv_heads), cos, sin)  # (B, nkv, T, hs)
        v = split_heads(self.v(x), self.n_kv_heads)  # (B, nkv, T, hs)
        if cache is not None:
            k, v = cache.extend(layer, k, v)  # (B, nkv, Tpast+T, hs)
        return self.o(merge_heads(attend(q, k, v, causal=True)))  # (B, T, C)


class SwiGLU(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.act = activation(cfg.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.gate(x)) * self.up(x))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(cfg.d_model, cfg.eps), Attention(cfg)
        self.mlp_norm, self.mlp = RMSNorm(cfg.d_model, cfg.eps), SwiGLU(cfg)

    def forward(self, x, cos, sin, cache, layer):
        x = x + self.attn(self.attn_norm(x), cos, sin, cache, layer)  # pre-norm residual
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    family = "llama"

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """ids (B, T) -> logits (B, T, V) and the hidden state after the embedding and each layer
        (the last one after the final norm, as transformers reports it)."""
        past = cache.length if cache is not None else 0
        positions = torch.arange(past, past + ids.shape[1], device=ids.device)
        cos, sin = rope_angles(positions, self.cfg.head_dim, self.cfg.rope_theta)  # (T, hs)
        x = self.embed(ids)  # (B, T, C); no scaling, no positions added here
        hidden = [x]
        for i, block in enumerate(self.layers):
            x = block(x, cos, sin, cache, i)
            hidden.append(x)
        x = self.norm(x)
        hidden[-1] = x
        if last_only:
            x = x[:, -1:]
        return self.head(x), hidden  # (B, T, V)


def build(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Llama:
    cfg = LlamaConfig.from_hf(config)
    model = Llama(cfg)
    absent = load_weights(model, tensors, RENAMES, optional=["head.weight"])
    if "head.weight" in absent:
        if not cfg.tie_embeddings:
            raise refuse("tie_word_embeddings", False,
                         "true, or a checkpoint that has lm_head.weight")
        model.head.weight = model.embed.weight
    return model.eval()
