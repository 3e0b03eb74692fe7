"""T5: encoder-decoder, relative position buckets, unscaled attention, RMS-style norm without bias.

What changed from BERT/GPT-2: both halves at once (a bidirectional encoder; a causal decoder that
also cross-attends to the encoder output); no position embeddings at all - instead a learned
scalar per (bucket of relative distance, head) added to the attention scores, computed by the
first layer of each stack and *shared by all its layers*; scores are NOT divided by sqrt(d_head)
(the initialisation absorbs it); pre-norm with T5's LayerNorm = RMSNorm (no mean, no bias); no
biases anywhere. v1.0: ReLU MLP, tied head with the decoder output scaled by d_model^-0.5;
v1.1: gated-GELU MLP, untied head, no scaling. Loads `T5ForConditionalGeneration` folders.
Refuses: other feed-forward activations, other model types (mT5, UMT5, LongT5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checkpoint import load_weights, need, refuse
from .layers import KVCache, activation, attend, merge_heads, split_heads
from .llama import RMSNorm  # T5's LayerNorm is exactly RMSNorm (same float32 arithmetic)

ATTENTION_SCALE = 1.0  # T5 folds 1/sqrt(d_head) into the initialisation of q

RENAMES = [
    (r"^(encoder|decoder)\.embed_tokens\.", None),  # copies of `shared`
    (r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.", None),
    (r"^shared\.", "embed."),
    (r"^(encoder|decoder)\.block\.0\.layer\.0\.SelfAttention\.relative_attention_bias\.",
     r"\1.rel_bias."),
    (r"^(encoder|decoder)\.block\.", r"\1.layers."),
    (r"\.layer\.0\.SelfAttention\.", ".attn."),
    (r"\.layer\.0\.layer_norm\.", ".attn_norm."),
    (r"^(decoder\.layers\.\d+)\.layer\.1\.EncDecAttention\.", r"\1.cross_attn."),
    (r"^(decoder\.layers\.\d+)\.layer\.1\.layer_norm\.", r"\1.cross_norm."),
    (r"\.layer\.\d\.DenseReluDense\.", ".mlp."),
    (r"\.layer\.\d\.layer_norm\.", ".mlp_norm."),
    (r"\.mlp\.wi_0\.", ".mlp.gate."),
    (r"\.mlp\.wi(_1)?\.", ".mlp.up."),
    (r"\.mlp\.wo\.", ".mlp.down."),
    (r"\.final_layer_norm\.", ".norm."),
    (r"^lm_head\.", "head."),
]


@dataclass
class T5Config:
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    n_layers: int
    n_decoder_layers: int
    n_heads: int
    n_buckets: int
    max_distance: int
    eps: float
    act: str
    gated: bool
    scale_decoder_output: bool
    decoder_start_id: int

    @classmethod
    def from_hf(cls, c: dict[str, Any]) -> T5Config:
        proj = c.get("feed_forward_proj", "relu")
        gated = proj.startswith("gated-")
        act = proj.removeprefix("gated-")
        if act not in ("relu", "gelu", "silu"):
            raise refuse("feed_forward_proj", proj, "relu, gelu, silu, gated-gelu, gated-silu")
        if proj == "gated-gelu":
            act = "gelu_new"  # what the v1.1 checkpoints were trained with (HF maps it too)
        # transformers 5 stores whether to scale as `scale_decoder_outputs`; older configs say
        # it through tie_word_embeddings (v1.0: tied and scaled; v1.1: untied, unscaled).
        scale = c.get("scale_decoder_outputs", c.get("tie_word_embeddings", True) is not False)
        layers = need(c, "num_layers")
        return cls(vocab_size=need(c, "vocab_size"), d_model=need(c, "d_model"),
                   d_kv=need(c, "d_kv"), d_ff=need(c, "d_ff"), n_layers=layers,
                   n_decoder_layers=c.get("num_decoder_layers") or layers,
                   n_heads=need(c, "num_heads"),
                   n_buckets=c.get("relative_attention_num_buckets", 32),
                   max_distance=c.get("relative_attention_max_distance", 128),
                   eps=c.get("layer_norm_epsilon", 1e-6), act=act, gated=gated,
                   scale_decoder_output=bool(scale),
                   decoder_start_id=c.get("decoder_start_token_id") or 0)


def relative_bucket(relative: torch.Tensor, bidirectional: bool, n_buckets: int,
                    max_distance: int) -> torch.Tensor:
    """Distance (key - query) -> bucket: exact for small distances, log-spaced up to max_distance.

    The encoder spends half the buckets on each direction; the decoder only looks back.
    e.g. bidirectional, 32 buckets: -1 -> 1, 0 -> 0, +1 -> 17, -200 -> 15.
    """
    bucket = torch.zeros_like(relative)
    if bidirectional:
        n_buckets //= 2
        bucket += (relative > 0).long() * n_buckets
        distance = relative.abs()
    else:
        distance = (-relative).clamp(min=0)
    exact = n_buckets // 2
    log_ratio = torch.log(distance.float() / exact) / math.log(max_distance / exact)
    large = (exact + (log_ratio * (n_buckets - exact)).long()).clamp(max=n_buckets - 1)
    return bucket + torch.where(distance < exact, distance, large)


class Attention(nn.Module):
    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        inner = cfg.n_heads * cfg.d_kv  # d_kv need not be d_model / n_heads in T5
        self.q, self.k, self.v = (nn.Linear(cfg.d_model, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, causal: bool,
                cache: KVCache | None = None, layer: int = 0,
                memory: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention, or cross-attention to `memory` (the encoder output) when given."""
        q = split_heads(self.q(x), self.n_heads)  # (B, nh, T, dkv)
        if memory is None:
            k, v = split_heads(self.k(x), self.n_heads), split_heads(self.v(x), self.n_heads)
            if cache is not None:
                k, v = cache.extend(layer, k, v)  # (B, nh, Tpast+T, dkv)
        elif cache is not None and cache.cross[layer] is not None:
            k, v = cache.cross[layer]  # the encoder output does not change while decoding
        else:
            k, v = split_heads(self.k(memory), self.n_heads), split_heads(self.v(memory),
                                                                          self.n_heads)
            if cache is not None:
                cache.cross[layer] = (k, v)
        out = attend(q, k, v, causal=causal, scale=ATTENTION_SCALE, bias=bias)
        return self.o(merge_heads(out))  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False) if cfg.gated else None
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.act = activation(cfg.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is None:
            return self.down(self.act(self.up(x)))  # v1.0
        return self.down(self.act(self.gate(x)) * self.up(x))  # v1.1: gated, like SwiGLU


class Block(nn.Module):
    def __init__(self, cfg: T5Config, decoder: bool) -> None:
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(cfg.d_model, cfg.eps), Attention(cfg)
        if decoder:
            self.cross_norm, self.cross_attn = RMSNorm(cfg.d_model, cfg.eps), Attention(cfg)
        self.mlp_norm, self.mlp = RMSNorm(cfg.d_model, cfg.eps), MLP(cfg)

    def forward(self, x, bias, cache=None, layer=0, memory=None):
        causal = memory is not None
        x = x + self.attn(self.attn_norm(x), bias, causal, cache, layer)
        if memory is not None:  # cross-attention has no position bias
            x = x + self.cross_attn(self.cross_norm(x), None, False, cache, layer, memory)
        return x + self.mlp(self.mlp_norm(x))


class Stack(nn.Module):
    """The encoder or the decoder: blocks plus ONE relative-bias table used by every layer."""

    def __init__(self, cfg: T5Config, decoder: bool) -> None:
        super().__init__()
        self.cfg, self.decoder = cfg, decoder
        self.rel_bias = nn.Embedding(cfg.n_buckets, cfg.n_heads)
        n = cfg.n_decoder_layers if decoder else cfg.n_layers
        self.layers = nn.ModuleList(Block(cfg, decoder) for _ in range(n))
        self.norm = RMSNorm(cfg.d_model, cfg.eps)

    def position_bias(self, Tq: int, Tk: int, past: int) -> torch.Tensor:
        query = torch.arange(past, past + Tq)[:, None]
        key = torch.arange(Tk)[None, :]
        buckets = relative_bucket(key - query, not self.decoder, self.cfg.n_buckets,
                                  self.cfg.max_distance)  # (Tq, Tk)
        return self.rel_bias(buckets.to(self.rel_bias.weight.device)).permute(2, 0, 1)[None]

    def forward(self, x, cache=None, memory=None):
        past = cache.length if cache is not None else 0
        bias = self.position_bias(x.shape[1], past + x.shape[1], past)  # (1, nh, Tq, Tk)
        hidden = [x]
        for i, block in enumerate(self.layers):
            x = block(x, bias, cache, i, memory)
            hidden.append(x)
        x = self.norm(x)
        hidden[-1] = x
        return x, hidden


class T5(nn.Module):
    family = "t5"

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)  # shared by both stacks
        self.encoder, self.decoder = Stack(cfg, decoder=False), Stack(cfg, decoder=True)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.encoder(self.embed(ids))  # (B, S, C)

    def decode(self, ids: torch.Tensor, memory: torch.Tensor, cache: KVCache | None = None,
               last_only: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, hidden = self.decoder(self.embed(ids), cache, memory)  # (B, T, C)
        if self.cfg.scale_decoder_output:
            x = x * self.cfg.d_model ** -0.5  # v1.0's tied head expects embedding-scale inputs
        if last_only:
            x = x[:, -1:]
        return self.head(x), hidden  # (B, T, V)

    def forward(self, ids: torch.Tensor, decoder_ids: torch.Tensor
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encoder ids (B, S) and decoder ids (B, T) -> logits (B, T, V) and the hidden states of
        the encoder followed by those of the decoder."""
        memory, enc_hidden = self.encode(ids)
        logits, dec_hidden = self.decode(decoder_ids, memory)
        return logits, enc_hidden + dec_hidden


def build(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> T5:
    model = T5(T5Config.from_hf(config))
    absent = load_weights(model, tensors, RENAMES, optional=["head.weight"])
    if "head.weight" in absent:
        model.head.weight = model.embed.weight
    return model.eval()
