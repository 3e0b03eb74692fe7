"""Settings of long-context; each field's help is the reference and becomes a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param

from .rope import ROPE_TYPES


@dataclass
class ModelConfig:
    """Which model, which RoPE scaling and which attention a run uses."""

    model: str = param(
        EMBEDDED_LLM, help="model name, local directory or Hugging Face id (Llama family)"
    )
    rope_scaling: str | None = param(
        None, help=f"RoPE scaling type: one of {', '.join(ROPE_TYPES)}"
    )
    factor: float | None = param(None, help="scaling factor (>= 1), e.g. 2.0 to double the context")
    original_length: int | None = param(
        None, help="L0 the scaling extends from (default: the model's max_position_embeddings)"
    )
    attention: str = param(
        "tiled",
        help="tiled (ours), sdpa or eager (transformers')",
        choices=("tiled", "sdpa", "eager"),
    )
    block_size: int = param(256, help="query/key tile size of the tiled attention")
    device: str = param("cpu", help="cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.rope_scaling is not None and self.rope_scaling not in ROPE_TYPES:
            raise UserError(
                f"unknown --rope-scaling '{self.rope_scaling}'; supported: {', '.join(ROPE_TYPES)}"
            )
        if self.factor is not None and self.factor < 1:
            raise UserError(f"--factor must be >= 1 to extend the context (got {self.factor})")
        if self.factor is not None and self.rope_scaling is None:
            raise UserError("--factor needs --rope-scaling TYPE")
        if self.block_size < 1:
            raise UserError(f"--block-size must be >= 1 (got {self.block_size})")


@dataclass
class StreamConfig(ModelConfig):
    """StreamingLLM: perplexity over a long stream with a sinks + window KV cache."""

    sinks: int = param(4, help="S: first tokens kept in the cache for ever (0 = plain window)")
    window: int = param(252, help="W: most recent tokens kept in the cache")
    tokens: int = param(4096, help="length of the stream (tokens of the workspace corpus)")
    chunk: int = param(32, help="tokens fed per step (the cache is trimmed after each)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sinks < 0 or self.window < 1 or self.chunk < 1 or self.tokens < 2:
            raise UserError("need --sinks >= 0, --window >= 1, --chunk >= 1 and --tokens >= 2")


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model for the passkey part")
    passkey_length: int = param(1024, help="prompt tokens of the demo's passkey trials")
    passkey_trials: int = param(3, help="passkey trials (depths at the centres of n equal bins)")
    attention_tokens: int = param(4096, help="sequence length of the tiled-vs-SDPA check")

    def __post_init__(self) -> None:
        if self.passkey_trials < 1 or self.passkey_length < 64 or self.attention_tokens < 1:
            raise UserError(
                "need --passkey-trials >= 1, --passkey-length >= 64, --attention-tokens >= 1"
            )
