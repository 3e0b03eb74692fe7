"""The encoder-decoder Transformer of "Attention Is All You Need", layer by layer.

Embeddings (shared by source, target and the output projection, scaled by √d_model as in the
paper) -> N encoder layers (self-attention, FFN) -> N decoder layers (causal self-attention,
cross-attention over the encoder output, FFN) -> logits. Post-norm (the paper, and
`torch.nn.Transformer`'s default) or pre-norm (with a final LayerNorm, what GPT-2 and later use).
The decoder keeps a KV cache for generation (`decode.py`). Left out: encoder-only / decoder-only
stacks (chapter 2.2), mixed precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .config import ModelConfig
from .positions import sinusoidal_table


class FeedForward(nn.Module):
    """Position-wise FFN: W2 act(W1 x); SwiGLU is W2 (silu(W1 x) * W3 x)."""

    def __init__(self, d_model: int, dim_ff: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.activation = activation
        self.linear1 = nn.Linear(d_model, dim_ff)
        self.linear2 = nn.Linear(dim_ff, d_model)
        self.gate = nn.Linear(d_model, dim_ff) if activation == "swiglu" else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear1(x)  # (B, T, dim_ff)
        if self.activation == "relu":
            h = F.relu(h)
        elif self.activation == "gelu":
            h = F.gelu(h)
        else:
            h = F.silu(h) * self.gate(x)
        return self.linear2(self.dropout(h))  # (B, T, d)


def _sublayer(norm_first: bool, norm: nn.LayerNorm, dropout: nn.Dropout, x: torch.Tensor,
              fn) -> torch.Tensor:
    """Residual around `fn`: post-norm LN(x + f(x)) or pre-norm x + f(LN(x))."""
    if norm_first:
        return x + dropout(fn(norm(x)))
    return norm(x + dropout(fn(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.norm_first = c.norm == "pre"
        relative = c.position if c.position in ("rope", "alibi") else None
        self.self_attn = MultiHeadAttention(c.d_model, c.num_heads, c.kv_heads, c.dropout,
                                            position=relative, causal=False)
        self.ff = FeedForward(c.d_model, c.dim_ff, c.activation, c.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None,
                positions: torch.Tensor) -> torch.Tensor:
        x = _sublayer(self.norm_first, self.norm1, self.dropout, x,
                      lambda h: self.self_attn.attend(h, h, mask, positions))
        return _sublayer(self.norm_first, self.norm2, self.dropout, x, self.ff)


@dataclass
class LayerCache:
    """What one decoder layer keeps between generation steps: its own past keys and values and
    the encoder output's keys and values (computed once)."""
    self_kv: tuple[torch.Tensor, torch.Tensor] | None = None
    cross_kv: tuple[torch.Tensor, torch.Tensor] | None = None

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows `index` (beam search picks which hypotheses survive)."""
        self.self_kv = tuple(t.index_select(0, index) for t in self.self_kv)
        self.cross_kv = tuple(t.index_select(0, index) for t in self.cross_kv)


@dataclass
class DecoderCache:
    layers: list[LayerCache] = field(default_factory=list)
    length: int = 0  # target tokens already seen

    def reorder(self, index: torch.Tensor) -> None:
        for layer in self.layers:
            layer.reorder(index)


class DecoderLayer(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.norm_first = c.norm == "pre"
        relative = c.position if c.position in ("rope", "alibi") else None
        self.self_attn = MultiHeadAttention(c.d_model, c.num_heads, c.kv_heads, c.dropout,
                                            position=relative, causal=True)
        self.cross_attn = MultiHeadAttention(c.d_model, c.num_heads, c.kv_heads, c.dropout)
        self.ff = FeedForward(c.d_model, c.dim_ff, c.activation, c.dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(c.d_model) for _ in range(3))
        self.dropout = nn.Dropout(c.dropout)

    def _self(self, h: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
              cache: LayerCache | None) -> torch.Tensor:
        k, v = self.self_attn.project_kv(h, positions)  # (B, Hkv, T, dh)
        k_positions = positions
        if cache is not None:
            if cache.self_kv is not None:
                k = torch.cat([cache.self_kv[0], k], dim=2)  # (B, Hkv, past + T, dh)
                v = torch.cat([cache.self_kv[1], v], dim=2)
            cache.self_kv = (k, v)
            k_positions = torch.arange(k.shape[2], device=h.device)
        return self.self_attn(h, (k, v), mask, positions, k_positions)

    def _cross(self, h: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None,
               cache: LayerCache | None) -> torch.Tensor:
        if cache is not None and cache.cross_kv is not None:
            kv = cache.cross_kv
        else:
            kv = self.cross_attn.project_kv(memory)
            if cache is not None:
                cache.cross_kv = kv
        return self.cross_attn(h, kv, memory_mask)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                memory_mask: torch.Tensor | None, positions: torch.Tensor,
                cache: LayerCache | None = None) -> torch.Tensor:
        x = _sublayer(self.norm_first, self.norm1, self.dropout, x,
                      lambda h: self._self(h, mask, positions, cache))
        x = _sublayer(self.norm_first, self.norm2, self.dropout, x,
                      lambda h: self._cross(h, memory, memory_mask, cache))
        return _sublayer(self.norm_first, self.norm3, self.dropout, x, self.ff)


class Transformer(nn.Module):
    """Token ids in, next-token logits out. Token id `config.pad_id` is padding."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        nn.init.normal_(self.embed.weight, std=c.d_model ** -0.5)  # tied: logits start near 0
        self.pos_table = nn.Embedding(c.max_len, c.d_model) if c.position == "learned" else None
        self.register_buffer("sinusoids", sinusoidal_table(c.max_len, c.d_model)
                             if c.position == "sinusoidal" else None, persistent=False)
        self.encoder_layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.num_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.num_layers))
        # Pre-norm leaves the residual stream un-normalised: a last LayerNorm fixes its scale.
        pre = c.norm == "pre"
        self.encoder_norm = nn.LayerNorm(c.d_model) if pre else None
        self.decoder_norm = nn.LayerNorm(c.d_model) if pre else None
        self.dropout = nn.Dropout(c.dropout)

    def embed_tokens(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) * math.sqrt(self.config.d_model)  # (B, T, d)
        if self.pos_table is not None:
            x = x + self.pos_table(positions)
        elif self.sinusoids is not None:
            x = x + self.sinusoids[positions]
        return self.dropout(x)

    def _check_length(self, length: int) -> None:
        if length > self.config.max_len:
            raise ValueError(f"sequence of {length} tokens exceeds max_len {self.config.max_len}")

    def run_encoder(self, x: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
        """Encoder stack on embedded input x (B, S, d); src_mask (B, 1, 1, S) True = real token."""
        positions = torch.arange(x.shape[1], device=x.device)
        for layer in self.encoder_layers:
            x = layer(x, src_mask, positions)
        return self.encoder_norm(x) if self.encoder_norm is not None else x

    def run_decoder(self, y: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None,
                    tgt_mask: torch.Tensor | None = None, offset: int = 0,
                    cache: DecoderCache | None = None) -> torch.Tensor:
        """Decoder stack on embedded target y (B, T, d) at positions offset..offset+T-1."""
        T = y.shape[1]
        positions = torch.arange(offset, offset + T, device=y.device)
        if tgt_mask is None:  # causal: position i sees 0..i (cached positions included)
            tgt_mask = torch.arange(offset + T, device=y.device)[None, :] <= positions[:, None]
        if cache is not None and not cache.layers:
            cache.layers = [LayerCache() for _ in self.decoder_layers]
        for i, layer in enumerate(self.decoder_layers):
            y = layer(y, memory, tgt_mask, src_mask, positions,
                      cache.layers[i] if cache is not None else None)
        return self.decoder_norm(y) if self.decoder_norm is not None else y

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src ids (B, S) -> (memory (B, S, d), src_mask (B, 1, 1, S))."""
        self._check_length(src.shape[1])
        src_mask = (src != self.config.pad_id)[:, None, None, :]  # (B, 1, 1, S)
        positions = torch.arange(src.shape[1], device=src.device)
        return self.run_encoder(self.embed_tokens(src, positions), src_mask), src_mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               cache: DecoderCache | None = None) -> torch.Tensor:
        """tgt ids (B, T) -> logits (B, T, V); with a cache, tgt holds only the new tokens."""
        offset = cache.length if cache is not None else 0
        self._check_length(offset + tgt.shape[1])
        positions = torch.arange(offset, offset + tgt.shape[1], device=tgt.device)
        h = self.run_decoder(self.embed_tokens(tgt, positions), memory, src_mask,
                             offset=offset, cache=cache)
        if cache is not None:
            cache.length += tgt.shape[1]
        return h @ self.embed.weight.T  # (B, T, V), tied with the input embedding

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)

    def attention_modules(self) -> dict[str, MultiHeadAttention]:
        """Every attention block by a readable name (for the heatmaps)."""
        named = {f"encoder.{i}.self": layer.self_attn for i, layer in
                 enumerate(self.encoder_layers)}
        for i, layer in enumerate(self.decoder_layers):
            named[f"decoder.{i}.self"] = layer.self_attn
            named[f"decoder.{i}.cross"] = layer.cross_attn
        return named
