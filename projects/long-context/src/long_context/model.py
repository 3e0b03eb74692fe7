"""Load a Llama-family model with a chosen RoPE scaling, our RoPE module and our tiled attention.

The weights and the decoder come from transformers; two pieces are ours: `LongRotaryEmbedding`
(replaces `model.model.rotary_emb`, computing cos/sin with `rope.py`) and the attention function
(registered as transformers attention implementation "long_context_tiled"). The same
`rope_parameters` also go into the model's config, so `attn="sdpa", ours_rope=False` gives the
transformers reference for the same scaling, which is what the tests compare against.

Dynamic NTK cache policy (stated, tested): the frequencies are a pure function of the length the
call sees, `max(position) + 1`; nothing is cached across calls, so a long prompt followed by a short
one never runs the short one with the long one's stale base (transformers keeps the grown base until
the length drops below the original, a state users trip over). Keys already in a KV cache keep the
rotation they were written with, as in transformers.

Leaves out: models other than `LlamaForCausalLM`-style decoders with a `model.rotary_emb`, per-layer
RoPE, padded batches through the tiled path (transformers passes it no mask).
Run: `long-context passkey --rope-scaling yarn --factor 2 ...`.
"""

from __future__ import annotations

from typing import Any

import torch
from llm_shared import UserError, load_causal_lm
from torch import nn

from .attention import hf_attention_forward
from .rope import RopeSpec, cos_sin, rope_frequencies

ATTN_NAME = "long_context_tiled"
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")


class LongRotaryEmbedding(nn.Module):
    """Drop-in for transformers' rotary module: forward(x, position_ids) -> (cos, sin)."""

    def __init__(self, spec: RopeSpec) -> None:
        super().__init__()
        self.spec = spec
        self.static = spec.rope_type not in ("dynamic", "longrope")
        inv_freq, self.attention_factor = rope_frequencies(spec)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq, factor = self.inv_freq, self.attention_factor
        if not self.static:  # length-dependent: recompute from this call's length (no stale state)
            inv_freq, factor = rope_frequencies(self.spec, int(position_ids.max()) + 1)
        cos, sin = cos_sin(inv_freq.to(x.device), position_ids, factor)  # (B, T, D) each
        return cos.to(x.dtype), sin.to(x.dtype)


def _register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTN_NAME, hf_attention_forward)


def configure(
    model: Any,
    *,
    rope_type: str | None = None,
    factor: float | None = None,
    extra: dict[str, Any] | None = None,
    original_length: int | None = None,
    attn: str = "tiled",
    ours_rope: bool = True,
    block_size: int = 128,
) -> RopeSpec:
    """Give a loaded model a RoPE scaling and an attention path; returns the RopeSpec in use.

    attn: "tiled" (ours), "sdpa" or "eager" (transformers'). `extra`: more rope parameters
    (llama3's `low_freq_factor`, longrope's factor lists, YaRN's betas). `original_length`
    overrides L0 (default: the model's `max_position_embeddings`). Calling it again starts from
    the model's original configuration, so one loaded model can be compared under many settings.
    """
    if attn not in ("tiled", "sdpa", "eager"):
        raise UserError(f"unknown attention '{attn}'; use tiled, sdpa or eager")
    config = model.config
    if config.model_type not in SUPPORTED_MODEL_TYPES or not hasattr(model.model, "rotary_emb"):
        raise UserError(
            f"model type '{config.model_type}' is not supported; use a Llama-family "
            f"model ({', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        raise UserError("sliding-window attention is not implemented by the tiled kernel")
    if not hasattr(model, "_long_context_base"):
        model._long_context_base = (
            dict(config.rope_parameters),
            config.max_position_embeddings,
            type(model.model.rotary_emb),
        )
    base_params, base_len, hf_rotary = model._long_context_base
    config.rope_parameters, config.max_position_embeddings = dict(base_params), base_len
    config.__dict__.pop("original_max_position_embeddings", None)
    raw = config.to_dict()
    if rope_type is not None:
        raw["rope_parameters"] = {**base_params, **(extra or {})}
    if original_length is not None:
        # dynamic NTK measures against max_position_embeddings, the others against L0.
        key = (
            "max_position_embeddings"
            if rope_type == "dynamic"
            else "original_max_position_embeddings"
        )
        raw[key] = original_length
        setattr(config, key, original_length)
    spec = RopeSpec.from_config(raw, rope_type=rope_type, factor=factor)
    if ours_rope:
        model.model.rotary_emb = LongRotaryEmbedding(spec).to(model.device)
    elif rope_type == "ntk":
        raise UserError("transformers has no static 'ntk' rope; the reference path needs ours_rope")
    else:
        config.rope_parameters = spec.as_rope_parameters()
        model.model.rotary_emb = hf_rotary(config).to(model.device)
    if attn == "tiled":
        _register_attention()
        config.tiled_block_size = block_size
        model.set_attn_implementation(ATTN_NAME)
    else:
        model.set_attn_implementation(attn)
    return spec


def load_long_model(
    name: str, *, device: str = "cpu", **settings: Any
) -> tuple[Any, Any, RopeSpec]:
    """(model, tokenizer, spec): `name` loaded, then `configure(model, **settings)`."""
    model, tokenizer = load_causal_lm(name, device=device)
    return model, tokenizer, configure(model, **settings)
