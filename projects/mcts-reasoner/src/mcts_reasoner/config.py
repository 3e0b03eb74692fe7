"""Settings of mcts-reasoner; each field's help is the reference and becomes a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    max_new_tokens: int = param(48, help="tokens to generate")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise UserError(f"--max-new-tokens must be > 0 (got {self.max_new_tokens})")
