"""Settings of every model-families command; each field's help is the reference and a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param


@dataclass
class CompareConfig:
    model: str = param(EMBEDDED_LLM, help="model folder (config.json + weights) or embedded name")
    repeats: int = param(3, help="timed forward passes of each implementation (median)")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise UserError(f"--repeats must be >= 1 (got {self.repeats})")


@dataclass
class GenerateConfig:
    model: str = param(EMBEDDED_LLM, help="decoder or seq2seq model folder or embedded name")
    prompt: str = param("The three primary colours are", help="text to continue")
    max_tokens: int = param(24, help="most new tokens to generate")
    temperature: float = param(0.0, help="0 = greedy; > 0 samples")
    top_k: int = param(0, help="sample among the k most likely tokens (0 = off)")
    top_p: float = param(1.0, help="nucleus sampling mass (1.0 = off)")
    seed: int = param(0, help="random seed for sampling")
    chat: bool = param(False, help="wrap the prompt in the tokenizer's chat template")
    check_hf: bool = param(False, help="also run transformers' generate and report equality")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if not 1 <= self.max_tokens <= 4096:
            raise UserError(f"--max-tokens must be in 1..4096 (got {self.max_tokens})")
        if self.temperature < 0 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise UserError("--temperature and --top-k must be >= 0 and --top-p in (0, 1]")


@dataclass
class FillMaskConfig:
    model: str = param("", help="BertForMaskedLM folder (needs the MLM head and a tokenizer)")
    text: str = param("The capital of France is [MASK].", help="text with one or more [MASK]")
    top: int = param(5, help="candidates to show per mask")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if not self.model:
            raise UserError("fill-mask needs --model DIR, a BertForMaskedLM folder")
        if self.top < 1:
            raise UserError(f"--top must be >= 1 (got {self.top})")


@dataclass
class TableConfig:
    models: list[str] = param([], help="folders or embedded names (default: the five "
                                        "reference rows)")
    json: bool = param(False, help="print only the JSON line")


@dataclass
class DemoConfig:
    max_tokens: int = param(12, help="tokens generated per decoder in the demo")

    def __post_init__(self) -> None:
        if not 1 <= self.max_tokens <= 64:
            raise UserError(f"--max-tokens must be in 1..64 (got {self.max_tokens})")


@dataclass
class BenchConfig:
    repeats: int = param(5, help="alternating timed runs per side (median)")
    decode_tokens: int = param(32, help="greedy tokens per decode run on SmolLM2")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.decode_tokens < 1:
            raise UserError("--repeats and --decode-tokens must be >= 1")
