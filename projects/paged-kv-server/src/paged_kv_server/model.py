"""A Llama-family decoder written out by hand (RMSNorm, RoPE, GQA, SwiGLU) over the paged cache.

`LlamaModel.from_pretrained(path)` reads `config.json` and `model.safetensors` of any Llama
checkpoint (SmolLM2, TinyLlama, Llama 2/3 with default RoPE) itself — no transformers model class.
Q/K/V and gate/up projections are fused into one matmul each (fewer, larger GEMMs). The math
follows HF's `LlamaForCausalLM` operation by operation (float32 RMSNorm, RoPE tables in float32,
rotate-half convention), which is what makes greedy decoding token-identical to `generate`.
RMSNorm, the RoPE tables, the fused weights and the architecture check come from
`llm_shared.llama` (shared with medusa-decoder). Refuses (one line) what it would run wrongly: other
model types, q/k/v or MLP biases (Qwen2), sliding windows (Mistral), RoPE scaling variants
(llama3/yarn). Leaves out tensor parallelism and quantised weights. Exercised by
`tests/test_equivalence.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from llm_shared import (
    PackedLinear,
    UserError,
    check_llama_config,
    fused_layer_weights,
    rms_norm,
    rope_inv_freq,
    rope_tables,
)
from safetensors import safe_open

from .attention import AttentionMetadata, paged_attention


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    eos_token_ids: tuple[int, ...]

    @classmethod
    def from_json(cls, path: Path) -> LlamaConfig:
        raw = json.loads(path.read_text())
        check_llama_config(raw, str(path.parent))
        rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
        if rope.get("rope_type", "default") != "default":
            raise UserError(f"RoPE type '{rope.get('rope_type')}' is not supported; only default")
        heads = raw["num_attention_heads"]
        eos = raw.get("eos_token_id")
        return cls(
            vocab_size=raw["vocab_size"], hidden_size=raw["hidden_size"],
            intermediate_size=raw["intermediate_size"],
            num_hidden_layers=raw["num_hidden_layers"], num_attention_heads=heads,
            num_key_value_heads=raw.get("num_key_value_heads", heads),
            head_dim=raw.get("head_dim") or raw["hidden_size"] // heads,
            rms_norm_eps=raw["rms_norm_eps"],
            rope_theta=rope.get("rope_theta", raw.get("rope_theta", 10000.0)),
            max_position_embeddings=raw.get("max_position_embeddings", 2048),
            tie_word_embeddings=raw.get("tie_word_embeddings", False),
            eos_token_ids=tuple(eos if isinstance(eos, list) else [] if eos is None else [eos]),
        )


def apply_rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """HF's `x * cos + rotate_half(x) * sin` with rotate_half(x) = (-x2, x1): rolling x to
    (x2, x1) and multiplying by (-sin1, sin2) gives the same products bit for bit, one op less."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


class LlamaModel:
    """Weights as plain tensors plus `forward(ids, positions, meta, logits_rows) -> logits`."""

    def __init__(self, config: LlamaConfig, weights: dict[str, torch.Tensor],
                 device: torch.device, dtype: torch.dtype) -> None:
        self.config, self.device, self.dtype = config, device, dtype
        c = config

        def w(name: str) -> torch.Tensor:
            return weights[name].to(device=device, dtype=dtype)

        self.embed = w("model.embed_tokens.weight")  # (V, C)
        self.lm_head = self.embed if c.tie_word_embeddings else w("lm_head.weight")  # (V, C)
        # NOTE: vocabulary slices of 2048 rows measured ~20% faster than one (V, C) F.linear on
        # this CPU at 16-128 rows (the slice stays in cache); kept, each slice now prepacked.
        self.lm_head_slices = [PackedLinear(s) for s in self.lm_head.split(2048)]
        self.norm = w("model.norm.weight")
        self.layers = [fused_layer_weights(w, i) for i in range(c.num_hidden_layers)]
        # Matmuls through weights prepacked once for oneDNN (llm_shared.PackedLinear): a
        # decode batch of 8-64 rows ran its linears 1.3-1.8x faster than with F.linear, which
        # reorders each weight on every call (CPU only; F.linear elsewhere).
        for layer in self.layers:
            for name in ("qkv", "o", "gate_up", "down"):
                layer[name] = PackedLinear(layer[name])
        # RoPE tables exactly as HF computes them (float32, then cast to the model dtype).
        D = c.head_dim
        cos, sin = rope_tables(rope_inv_freq(D, c.rope_theta), c.max_position_embeddings)  # (P, D)
        self.cos = cos.to(device=device, dtype=dtype)
        half = D // 2
        self.signed_sin = torch.cat((-sin[:, :half], sin[:, half:]), -1).to(device=device,
                                                                              dtype=dtype)
        self.scale = D ** -0.5

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: torch.device,
                        dtype: torch.dtype) -> LlamaModel:
        path = Path(path)
        if not (path / "config.json").is_file():
            raise UserError(f"{path} has no config.json; pass a model directory")
        config = LlamaConfig.from_json(path / "config.json")
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise UserError(f"{path} has no *.safetensors weights; save the model with "
                            "save_pretrained(safe_serialization=True)")
        weights: dict[str, torch.Tensor] = {}
        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                    weights[key] = handle.get_tensor(key)
        return cls(config, weights, device, dtype)

    def kv_bytes_per_token(self) -> int:
        c = self.config
        return 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * self.dtype.itemsize

    def allocate_kv_cache(self, num_blocks: int, block_size: int) -> tuple[torch.Tensor, ...]:
        c = self.config
        # Heads before blocks: a gather of blocks yields contiguous (tokens, D) runs per KV head.
        shape = (c.num_hidden_layers, c.num_key_value_heads, num_blocks, block_size, c.head_dim)
        k = torch.zeros(shape, device=self.device, dtype=self.dtype)
        v = torch.zeros(shape, device=self.device, dtype=self.dtype)
        return k, v

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor, meta: AttentionMetadata,
                k_cache: torch.Tensor, v_cache: torch.Tensor,
                logits_rows: torch.Tensor) -> torch.Tensor:
        """input_ids, positions (N,) -> float32 logits (S, V) of the rows in `logits_rows`."""
        c = self.config
        H, n_kv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        N = input_ids.shape[0]
        cos = self.cos[positions].unsqueeze(1)  # (N, 1, D)
        sin = self.signed_sin[positions].unsqueeze(1)  # (N, 1, D)
        x = F.embedding(input_ids, self.embed)  # (N, C)
        for i, layer in enumerate(self.layers):
            h = rms_norm(x, layer["input_norm"], c.rms_norm_eps)  # (N, C)
            qkv = layer["qkv"](h)  # (N, (H + 2 n_kv) D)
            qk, v = qkv.split([(H + n_kv) * D, n_kv * D], dim=-1)
            qk = apply_rope(qk.view(N, H + n_kv, D), cos, sin)  # q and k heads in one pass
            q, k = qk.split([H, n_kv], dim=1)  # (N, H, D), (N, n_kv, D)
            attn = paged_attention(q, k, v.view(N, n_kv, D), k_cache[i], v_cache[i], meta,
                                   self.scale)  # (N, H*D)
            x = x + layer["o"](attn)
            h = rms_norm(x, layer["post_norm"], c.rms_norm_eps)
            gate, up = layer["gate_up"](h).chunk(2, dim=-1)  # (N, I) each
            x = x + layer["down"](F.silu(gate) * up)  # (N, C)
        x = rms_norm(x[logits_rows], self.norm, c.rms_norm_eps)  # (S, C)
        return torch.cat([op(x) for op in self.lm_head_slices], dim=-1).float()  # (S, V)
