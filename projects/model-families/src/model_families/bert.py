"""BERT: encoder-only, learned absolute positions + token types, post-LayerNorm, GELU, MLM head.

The starting point of the family tree: bidirectional attention (every token sees every token),
a masked-language-model objective, three embeddings summed (token + position + segment) and
normalised, and LayerNorm *after* each residual addition (post-LN). The MLM head is a dense +
GELU + LayerNorm transform, then a decoder that reuses the word embeddings plus its own bias.
Loads `BertModel` (no head: "logits" are the last hidden states) and `BertForMaskedLM` folders.
Refuses: relative position embeddings, decoder/cross-attention use, unknown activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from llm_shared import UserError
from torch import nn

from .checkpoint import load_weights, need, refuse
from .layers import activation, attend, merge_heads, split_heads

RENAMES = [
    (r"^bert\.", ""),
    (r"position_ids$", None),  # a buffer (0..n-1) older checkpoints saved
    (r"^pooler\.", None),  # the [CLS] pooler feeds next-sentence prediction only
    (r"^cls\.seq_relationship\.", None),
    (r"^embeddings\.word_embeddings\.", "embed."),
    (r"^embeddings\.position_embeddings\.", "pos_embed."),
    (r"^embeddings\.token_type_embeddings\.", "type_embed."),
    (r"^embeddings\.LayerNorm\.", "embed_norm."),
    (r"^encoder\.layer\.", "layers."),
    (r"\.attention\.self\.query\.", ".attn.q."),
    (r"\.attention\.self\.key\.", ".attn.k."),
    (r"\.attention\.self\.value\.", ".attn.v."),
    (r"\.attention\.output\.dense\.", ".attn.o."),
    (r"\.attention\.output\.LayerNorm\.", ".attn_norm."),
    (r"\.intermediate\.dense\.", ".mlp.up."),
    (r"\.output\.dense\.", ".mlp.down."),
    (r"\.output\.LayerNorm\.", ".mlp_norm."),
    (r"^cls\.predictions\.transform\.dense\.", "head.dense."),
    (r"^cls\.predictions\.transform\.LayerNorm\.", "head.norm."),
    (r"^cls\.predictions\.decoder\.weight$", "head.decoder.weight"),
    (r"^cls\.predictions\.(decoder\.)?bias$", "head.decoder.bias"),
]


@dataclass
class BertConfig:
    vocab_size: int
    n_positions: int
    n_types: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    eps: float
    act: str
    mlm_head: bool

    @classmethod
    def from_hf(cls, c: dict[str, Any], mlm_head: bool) -> BertConfig:
        if c.get("position_embedding_type", "absolute") != "absolute":
            raise refuse("position_embedding_type", c["position_embedding_type"], "'absolute'")
        for option in ("is_decoder", "add_cross_attention"):
            if c.get(option):
                raise refuse(option, c[option], "false (BERT as an encoder)")
        return cls(vocab_size=need(c, "vocab_size"),
                   n_positions=need(c, "max_position_embeddings"),
                   n_types=c.get("type_vocab_size", 2), d_model=need(c, "hidden_size"),
                   n_layers=need(c, "num_hidden_layers"), n_heads=need(c, "num_attention_heads"),
                   d_ff=need(c, "intermediate_size"), eps=c.get("layer_norm_eps", 1e-12),
                   act=c.get("hidden_act", "gelu"), mlm_head=mlm_head)


class Attention(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.q, self.k, self.v = (nn.Linear(cfg.d_model, cfg.d_model) for _ in range(3))
        self.o = nn.Linear(cfg.d_model, cfg.d_model)
        self.scale = 1 / math.sqrt(cfg.d_model // cfg.n_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(p(x), self.n_heads) for p in (self.q, self.k, self.v))
        return self.o(merge_heads(attend(q, k, v, causal=False, scale=self.scale)))  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.d_ff)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model)
        self.act = activation(cfg.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.up(x)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attn, self.attn_norm = Attention(cfg), nn.LayerNorm(cfg.d_model, eps=cfg.eps)
        self.mlp, self.mlp_norm = MLP(cfg), nn.LayerNorm(cfg.d_model, eps=cfg.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn_norm(x + self.attn(x))  # post-norm: normalise the sum, not the input
        return self.mlp_norm(x + self.mlp(x))


class MLMHead(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.d_model, cfg.d_model)
        self.act = activation(cfg.act)
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.eps)
        self.decoder = nn.Linear(cfg.d_model, cfg.vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.act(self.dense(x))))  # (B, T, V)


class Bert(nn.Module):
    family = "bert"

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_positions, cfg.d_model)
        self.type_embed = nn.Embedding(cfg.n_types, cfg.d_model)
        self.embed_norm = nn.LayerNorm(cfg.d_model, eps=cfg.eps)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.head = MLMHead(cfg) if cfg.mlm_head else None

    def forward(self, ids: torch.Tensor, token_types: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """ids (B, T) -> MLM logits (B, T, V), or the last hidden states (B, T, C) without a head,
        and the hidden states after the embedding and each layer. Token types default to 0
        (segment A), as in transformers."""
        if ids.shape[1] > self.cfg.n_positions:
            raise UserError(f"this BERT has {self.cfg.n_positions} positions and the input has "
                            f"{ids.shape[1]} tokens; shorten the text")
        if token_types is None:
            token_types = torch.zeros_like(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.pos_embed(positions) + self.type_embed(token_types)
        x = self.embed_norm(x)  # (B, T, C)
        hidden = [x]
        for block in self.layers:
            x = block(x)
            hidden.append(x)
        return (self.head(x) if self.head is not None else x), hidden


def build(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Bert:
    mlm = any(name.startswith("cls.predictions.") for name in tensors)
    model = Bert(BertConfig.from_hf(config, mlm_head=mlm))
    absent = load_weights(model, tensors, RENAMES, optional=["head.decoder.weight"])
    if mlm and "head.decoder.weight" in absent:
        model.head.decoder.weight = model.embed.weight  # the MLM decoder is the embedding
    return model.eval()
