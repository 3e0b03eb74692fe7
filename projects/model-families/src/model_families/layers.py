"""The few pieces all four families share: activations, multi-head attention, the KV cache.

Everything family-specific (which norm, where it sits, how positions enter, whether scores are
scaled) stays in the family's own file, so `bert.py`, `gpt2.py`, `llama.py` and `t5.py` can be read
side by side. Leaves out dropout (inference only) and padding masks (one sequence length per batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checkpoint import refuse

# HF `hidden_act` names -> functions. "gelu" is the exact erf GELU (BERT); "gelu_new" is the tanh
# approximation GPT-2 and T5 v1.1 were trained with: swapping them moves logits by ~1e-3.
ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
}


def activation(name: str, option: str = "hidden_act"):
    if name not in ACTIVATIONS:
        raise refuse(option, name, ", ".join(ACTIVATIONS))
    return ACTIVATIONS[name]


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, _ = x.shape
    return x.view(B, T, n_heads, -1).transpose(1, 2)  # (B, nh, T, hs)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, nh*hs)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool,
           scale: float | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v over heads; `causal` lets query i see keys <= i + offset.

    q: (B, nh, Tq, hs); k, v: (B, nkv, Tk, hs) with nh a multiple of nkv (grouped-query attention).
    When the cache holds Tk - Tq earlier positions, query i sits at absolute position Tk - Tq + i.
    """
    Tq, Tk = q.shape[-2], k.shape[-2]
    gqa = k.shape[1] != q.shape[1]
    if causal and Tq > 1 and Tq == Tk and bias is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale,
                                              enable_gqa=gqa)  # (B, nh, Tq, hs)
    if causal and Tq > 1:
        allowed = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(Tk - Tq)  # (Tq, Tk)
        mask = torch.zeros(Tq, Tk, dtype=q.dtype, device=q.device).masked_fill(~allowed,
                                                                               float("-inf"))
        bias = mask if bias is None else bias + mask
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale,
                                          enable_gqa=gqa)  # (B, nh, Tq, hs)


class KVCache:
    """Keys and values of every layer seen so far, grown by concatenation along time.

    `cross` holds the encoder keys/values of a seq2seq decoder, computed once per generation.
    """

    def __init__(self, n_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.cross: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layers

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)  # (B, nkv, Tpast+T, hs)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v
