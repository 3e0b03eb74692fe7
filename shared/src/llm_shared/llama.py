"""The Llama pieces that hand-written decoders share: the architecture check, RMSNorm, the RoPE
tables and the fused per-layer weights, each computed exactly as HF's `LlamaForCausalLM` does.

    check_llama_config(raw_config_json_or_hf_config)     # UserError unless plain Llama
    cos, sin = rope_tables(rope_inv_freq(D, theta), P)    # float32 (P, D) each
    layer = fused_layer_weights(weights.__getitem__, i)   # {"qkv": (H+2Hkv)D x C, ...}

Leaves out attention, KV caching and the forward itself (each engine lays those out its own way),
and every Llama variant the check refuses: q/k/v or MLP biases (Qwen2), sliding windows
(Mistral), other model types. An engine that ran those with the pieces missing would decode
silently wrong tokens. Tested against transformers in shared/tests/test_llama.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .errors import UserError

SUPPORTED_MODEL_TYPES = ("llama",)


def check_llama_config(config: Mapping[str, Any] | Any, where: str = "the model") -> None:
    """Refuse (one-line `UserError`) a config this module's Llama math does not fully cover.

    `config` is a parsed `config.json` (dict) or a transformers config object."""
    def get(key: str, default: Any = None) -> Any:
        if isinstance(config, Mapping):
            return config.get(key, default)
        return getattr(config, key, default)

    kind = get("model_type")
    if kind not in SUPPORTED_MODEL_TYPES:
        raise UserError(f"{where} is a '{kind}' model; supported architectures: "
                        f"{', '.join(SUPPORTED_MODEL_TYPES)} (Qwen2's q/k/v biases and Mistral's "
                        "sliding window are not implemented)")
    for flag in ("attention_bias", "mlp_bias"):
        if get(flag, False):
            raise UserError(f"{where} sets {flag}=true; supported: Llama without biases")
    if get("sliding_window") is not None:
        raise UserError(f"{where} sets sliding_window={get('sliding_window')}; supported: Llama "
                        "with full attention")


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """HF LlamaRMSNorm: normalise in float32, cast back to x's dtype, then scale."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def rope_inv_freq(head_dim: int, theta: float) -> torch.Tensor:
    """HF's default RoPE init: theta ** -(2i / D) in float32, shape (D/2,)."""
    exponent = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    return 1.0 / (theta ** exponent)


def rope_tables(inv_freq: torch.Tensor, length: int, scale: float = 1.0,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 cos, sin (length, D) for positions 0..length-1, HF's layout (freqs repeated twice)
    and its `attention_scaling` factor; the caller casts to the model dtype."""
    pos = torch.arange(length, dtype=torch.float32, device=device)
    freqs = pos[:, None] * inv_freq.float().to(pos.device)[None, :]  # (P, D/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (P, D)
    return emb.cos() * scale, emb.sin() * scale


def fused_layer_weights(get: Callable[[str], torch.Tensor], layer: int,
                        prefix: str = "model.layers") -> dict[str, torch.Tensor]:
    """One decoder layer's weights by HF name, with q/k/v and gate/up concatenated so each runs
    as one matmul: keys input_norm, qkv ((H + 2 H_kv) D, C), o, post_norm, gate_up (2I, C), down.
    `get(name)` returns the tensor already on the wanted device and dtype."""
    p = f"{prefix}.{layer}."
    return {
        "input_norm": get(p + "input_layernorm.weight"),
        "qkv": torch.cat([get(p + f"self_attn.{n}_proj.weight") for n in "qkv"]),
        "o": get(p + "self_attn.o_proj.weight"),
        "post_norm": get(p + "post_attention_layernorm.weight"),
        "gate_up": torch.cat([get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")]),
        "down": get(p + "mlp.down_proj.weight"),
    }
