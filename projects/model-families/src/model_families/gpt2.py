"""GPT-2: decoder-only, learned absolute positions, pre-LayerNorm, GELU (tanh), tied LM head.

What changed from BERT: causal attention and a next-token objective; the LayerNorm moved before
each sub-layer (pre-LN) plus one final LayerNorm; no token types; the output head is the embedding
matrix itself. HF stores GPT-2's projections as `Conv1D` with weight (in, out), the transpose of
`nn.Linear`'s (out, in): we transpose once at load time. Loads `GPT2LMHeadModel` / `GPT2Model`
folders. Refuses: `scale_attn_by_inverse_layer_idx`, cross-attention, unknown activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from llm_shared import UserError
from torch import nn

from .checkpoint import load_weights, need, refuse
from .layers import KVCache, activation, attend, merge_heads, split_heads

RENAMES = [
    (r"^transformer\.", ""),
    (r"\.attn\.(bias|masked_bias)$", None),  # causal-mask buffers some checkpoints saved
    (r"^wte\.", "embed."),
    (r"^wpe\.", "pos_embed."),
    (r"^h\.", "layers."),
    (r"\.ln_1\.", ".attn_norm."),
    (r"\.ln_2\.", ".mlp_norm."),
    (r"\.attn\.c_attn\.", ".attn.qkv."),
    (r"\.attn\.c_proj\.", ".attn.o."),
    (r"\.mlp\.c_fc\.", ".mlp.up."),
    (r"\.mlp\.c_proj\.", ".mlp.down."),
    (r"^ln_f\.", "norm."),
    (r"^lm_head\.", "head."),
]


def conv1d_to_linear(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Conv1D keeps weight as (in, out); nn.Linear wants (out, in). Only the projections' 2-D
    weights are Conv1D: embeddings and the head are already the right way round."""
    is_conv = name.startswith("layers.") and name.endswith(".weight") and tensor.dim() == 2
    return tensor.t() if is_conv else tensor


@dataclass
class GPT2Config:
    vocab_size: int
    n_positions: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    eps: float
    act: str
    scale_attn: bool

    @classmethod
    def from_hf(cls, c: dict[str, Any]) -> GPT2Config:
        for option in ("scale_attn_by_inverse_layer_idx", "add_cross_attention"):
            if c.get(option):
                raise refuse(option, c[option], "false")
        d = need(c, "n_embd")
        return cls(vocab_size=need(c, "vocab_size"), n_positions=need(c, "n_positions"),
                   d_model=d, n_layers=need(c, "n_layer"), n_heads=need(c, "n_head"),
                   d_ff=c.get("n_inner") or 4 * d, eps=c.get("layer_norm_epsilon", 1e-5),
                   act=c.get("activation_function", "gelu_new"),
                   scale_attn=c.get("scale_attn_weights", True))


class Attention(nn.Module):
    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)  # one matmul for q, k and v
        self.o = nn.Linear(cfg.d_model, cfg.d_model)
        self.scale = 1 / math.sqrt(cfg.d_model // cfg.n_heads) if cfg.scale_attn else 1.0

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        q, k, v = self.qkv(x).split(x.shape[-1], dim=-1)  # 3 x (B, T, C)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.extend(layer, k, v)  # (B, nh, Tpast+T, hs)
        return self.o(merge_heads(attend(q, k, v, causal=True, scale=self.scale)))


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.d_ff)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model)
        self.act = activation(cfg.act, "activation_function")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.up(x)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.attn_norm, self.attn = nn.LayerNorm(cfg.d_model, eps=cfg.eps), Attention(cfg)
        self.mlp_norm, self.mlp = nn.LayerNorm(cfg.d_model, eps=cfg.eps), MLP(cfg)

    def forward(self, x, cache, layer):
        x = x + self.attn(self.attn_norm(x), cache, layer)  # pre-norm residual
        return x + self.mlp(self.mlp_norm(x))


class GPT2(nn.Module):
    family = "gpt2"

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_positions, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """ids (B, T) -> logits (B, T, V) and the hidden states (embedding, each layer; the last
        one after the final LayerNorm, as transformers reports it)."""
        past = cache.length if cache is not None else 0
        if past + ids.shape[1] > self.cfg.n_positions:
            raise UserError(f"this GPT-2 has {self.cfg.n_positions} learned positions and "
                            f"{past + ids.shape[1]} were asked for; shorten the prompt or "
                            "--max-tokens")
        positions = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.pos_embed(positions)  # (B, T, C)
        hidden = [x]
        for i, block in enumerate(self.layers):
            x = block(x, cache, i)
            hidden.append(x)
        x = self.norm(x)
        hidden[-1] = x
        if last_only:
            x = x[:, -1:]
        return self.head(x), hidden  # (B, T, V)


def build(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> GPT2:
    model = GPT2(GPT2Config.from_hf(config))
    absent = load_weights(model, tensors, RENAMES, transform=conv1d_to_linear,
                          optional=["head.weight"])
    if "head.weight" in absent:
        if config.get("tie_word_embeddings") is False:
            raise refuse("tie_word_embeddings", False,
                         "true, or a checkpoint that has lm_head.weight")
        model.head.weight = model.embed.weight
    return model.eval()
