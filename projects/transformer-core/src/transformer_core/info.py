"""`info`: parameter count, tensor shapes and forward FLOPs of a configuration, counted by hand.

FLOPs are the matrix multiplications of one teacher-forced forward pass (2 per multiply-add):
projections, q kᵀ, weights · v, FFN and the output projection; layer norms, softmax and
embedding look-ups are left out (they are O(d) per token, not O(d²)). The tests check this count
against `torch.utils.flop_counter.FlopCounterMode` on the real model.
"""

from __future__ import annotations

from typing import Any

from .config import InfoConfig, ModelConfig
from .model import Transformer


def model_config_for(config: InfoConfig) -> ModelConfig:
    return ModelConfig(vocab_size=config.vocab_size, d_model=config.d_model,
                       num_heads=config.num_heads, attention=config.attention,
                       num_layers=config.num_layers, dim_ff=config.dim_ff,
                       activation=config.activation,
                       max_len=max(config.src_len, config.tgt_len))


def forward_flops(c: ModelConfig, S: int, T: int, batch: int = 1) -> dict[str, int]:
    """Matmul FLOPs of one forward pass on a source of S and a target of T tokens."""
    d, kv = c.d_model, c.kv_heads * (c.d_model // c.num_heads)
    ffn_mats = 3 if c.activation == "swiglu" else 2

    def attention(q_tokens: int, kv_tokens: int) -> int:
        projections = 2 * q_tokens * d * d * 2 + 2 * kv_tokens * d * kv * 2  # q, out; k, v
        return projections + 2 * 2 * q_tokens * kv_tokens * d  # q kᵀ and weights · v

    ffn = 2 * ffn_mats * d * c.dim_ff
    encoder = c.num_layers * (attention(S, S) + S * ffn)
    decoder = c.num_layers * (attention(T, T) + attention(T, S) + T * ffn)
    logits = 2 * T * d * c.vocab_size
    parts = {"encoder": encoder, "decoder": decoder, "output projection": logits}
    return {k: v * batch for k, v in parts.items()}


def describe(config: InfoConfig) -> dict[str, Any]:
    c = model_config_for(config)
    model = Transformer(c)
    S, T, dh = config.src_len, config.tgt_len, c.d_model // c.num_heads
    count = {"embedding (shared with the output)": model.embed.weight.numel(),
             "encoder": sum(p.numel() for p in model.encoder_layers.parameters()),
             "decoder": sum(p.numel() for p in model.decoder_layers.parameters())}
    shapes = [
        ("token ids", f"(B, S) = (1, {S})"),
        ("embeddings", f"(B, S, d) = (1, {S}, {c.d_model})"),
        ("queries per head", f"(B, H, T, dh) = (1, {c.num_heads}, {T}, {dh})"),
        ("keys / values per head", f"(B, Hkv, S, dh) = (1, {c.kv_heads}, {S}, {dh})"),
        ("self-attention weights", f"(B, H, T, T) = (1, {c.num_heads}, {T}, {T})"),
        ("cross-attention weights", f"(B, H, T, S) = (1, {c.num_heads}, {T}, {S})"),
        ("FFN hidden", f"(B, T, d_ff) = (1, {T}, {c.dim_ff})"),
        ("logits", f"(B, T, V) = (1, {T}, {c.vocab_size})"),
        ("decoder KV cache", f"2 · layers · (B, Hkv, T, dh) = "
                             f"{2 * c.num_layers * c.kv_heads * T * dh} floats"),
    ]
    flops = forward_flops(c, S, T)
    return {"config": c.to_dict(), "parameters": count,
            "total_parameters": sum(p.numel() for p in model.parameters()),
            "shapes": shapes, "flops": flops, "total_gflops": sum(flops.values()) / 1e9}


def render(info: dict[str, Any]) -> str:
    lines = ["| part | parameters |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in info["parameters"].items()]
    lines += [f"| **total** | **{info['total_parameters']:,}** |", "",
              "| tensor | shape |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info["shapes"]]
    lines += ["", "| forward pass | GFLOPs |", "|---|---|"]
    lines += [f"| {k} | {v / 1e9:.3f} |" for k, v in info["flops"].items()]
    lines.append(f"| **total** | **{info['total_gflops']:.3f}** |")
    return "\n".join(lines)
