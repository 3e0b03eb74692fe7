"""Scaled dot-product attention and multi-head attention with MHA / MQA / GQA.

Why divide by √d_k: with q and k of unit-variance entries, q·k is a sum of d_k products and has
variance d_k; unscaled, the softmax of scores that large is almost one-hot and its gradient almost
zero. Dividing by √d_k brings the scores back to unit variance.

`num_kv_heads` picks the variant: == num_heads is MHA, 1 is MQA (one key/value head shared by all
query heads), anything dividing num_heads in between is GQA (groups of query heads share one).
Masks are boolean, True where a query may look. Checked against `torch.nn.MultiheadAttention` and
`F.scaled_dot_product_attention` in `reference.py`. Left out: sliding windows, flash kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .positions import Rotary, alibi_bias, alibi_slopes


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 bias: torch.Tensor | None = None,
                                 dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k + bias, masked) v; returns (output, attention weights).

    q: (B, H, Tq, dk), k: (B, H, Tk, dk), v: (B, H, Tk, dv), mask broadcastable to (B, H, Tq, Tk).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Tq, Tk)
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, Tq, Tk)
    if dropout > 0.0:
        weights = F.dropout(weights, p=dropout, training=True)
    return weights @ v, weights  # (B, H, Tq, dv), (B, H, Tq, Tk)


class MultiHeadAttention(nn.Module):
    """Multi-head attention. `position` is "rope" or "alibi" for self-attention with those
    schemes, None otherwise (cross-attention, or positions already added to the embeddings)."""

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int | None = None,
                 dropout: float = 0.0, position: str | None = None, causal: bool = False) -> None:
        super().__init__()
        num_kv_heads = num_kv_heads or num_heads
        if d_model % num_heads or num_heads % num_kv_heads:
            raise ValueError(f"d_model {d_model} must divide by num_heads {num_heads}, which must "
                             f"divide by num_kv_heads {num_kv_heads}")
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.head_dim = d_model // num_heads
        self.dropout, self.position, self.causal = dropout, position, causal
        self.q_proj = nn.Linear(d_model, num_heads * self.head_dim)
        self.k_proj = nn.Linear(d_model, num_kv_heads * self.head_dim)
        self.v_proj = nn.Linear(d_model, num_kv_heads * self.head_dim)
        self.out_proj = nn.Linear(num_heads * self.head_dim, d_model)
        self.rotary = Rotary(self.head_dim) if position == "rope" else None
        self.register_buffer("slopes", alibi_slopes(num_heads) if position == "alibi" else None,
                             persistent=False)
        self.keep_weights = False  # set by the heatmap code: store the last attention weights
        self.last_weights: torch.Tensor | None = None

    def _split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, heads, self.head_dim).transpose(1, 2)  # (B, heads, T, dh)

    def project_kv(self, x: torch.Tensor,
                   positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of `x` (B, S, d) -> two (B, Hkv, S, dh); what the KV cache stores."""
        k = self._split(self.k_proj(x), self.num_kv_heads)
        v = self._split(self.v_proj(x), self.num_kv_heads)
        if self.rotary is not None:
            k = self.rotary(k, positions)
        return k, v

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor | None = None, q_positions: torch.Tensor | None = None,
                k_positions: torch.Tensor | None = None) -> torch.Tensor:
        """Queries from `x` (B, T, d) attend over precomputed `kv` (from `project_kv`)."""
        B, T, _ = x.shape
        q = self._split(self.q_proj(x), self.num_heads)  # (B, H, T, dh)
        k, v = kv  # (B, Hkv, S, dh)
        if self.rotary is not None:
            q = self.rotary(q, q_positions)
        group = self.num_heads // self.num_kv_heads
        if group > 1:  # each key/value head serves `group` consecutive query heads
            k = k.repeat_interleave(group, dim=1)  # (B, H, S, dh)
            v = v.repeat_interleave(group, dim=1)
        bias = None
        if self.slopes is not None:
            bias = alibi_bias(self.slopes, q_positions, k_positions, self.causal)  # (H, T, S)
        out, weights = scaled_dot_product_attention(
            q, k, v, mask=mask, bias=bias, dropout=self.dropout if self.training else 0.0)
        if self.keep_weights:
            self.last_weights = weights.detach()
        out = out.transpose(1, 2).reshape(B, T, self.num_heads * self.head_dim)  # (B, T, H·dh)
        return self.out_proj(out)  # (B, T, d)

    def attend(self, x: torch.Tensor, source: torch.Tensor, mask: torch.Tensor | None = None,
               positions: torch.Tensor | None = None) -> torch.Tensor:
        """One call without a cache: queries from `x`, keys and values from `source`."""
        return self(x, self.project_kv(source, positions), mask, positions, positions)
