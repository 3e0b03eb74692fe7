"""Settings of llm-explorer; each field's help is the reference and becomes a CLI flag.

`SamplerConfig` holds the sampler chain's knobs (defaults are llama.cpp's: temperature 0.8,
top-k 40, top-p 0.95, min-p 0.05); the command configs add what each subcommand needs. Every
out-of-range value is refused in `__post_init__` with a one-line `UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param

STAGE_NAMES = ("penalties", "top_k", "top_p", "min_p", "typical", "temp")
DEFAULT_ORDER = ",".join(STAGE_NAMES)  # llama.cpp's order: cut first, then reshape


@dataclass
class SamplerConfig:
    temperature: float = param(0.8, help="softmax temperature; 0 = greedy (argmax, lowest id "
                                         "wins ties)")
    top_k: int = param(40, help="keep the K most likely tokens (0 = off)")
    top_p: float = param(0.95, help="keep the smallest set with probability mass >= P (1 = off)")
    min_p: float = param(0.05, help="drop tokens below M x the top token's probability (0 = off)")
    typical_p: float = param(1.0, help="locally typical sampling mass (1 = off)")
    repetition_penalty: float = param(1.0, help="divide positive / multiply negative logits of "
                                                "tokens already in the context (1 = off)")
    presence_penalty: float = param(0.0, help="subtract from tokens seen at least once (0 = off)")
    frequency_penalty: float = param(0.0, help="subtract this x the count of each seen token "
                                               "(0 = off)")
    seed: int = param(0, help="seed of the sampling generator (same seed, same text)")
    samplers: str = param(DEFAULT_ORDER, help="comma-separated stage order, from "
                                              + ",".join(STAGE_NAMES))

    def __post_init__(self) -> None:
        if not self.temperature >= 0:
            raise UserError(f"--temperature must be >= 0 (got {self.temperature}); 0 means greedy")
        if self.top_k < 0:
            raise UserError(f"--top-k must be >= 0 (got {self.top_k}); 0 turns it off")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1] (got {self.top_p}); 1 turns it off")
        if not 0 <= self.min_p <= 1:
            raise UserError(f"--min-p must be in [0, 1] (got {self.min_p}); 0 turns it off")
        if not 0 < self.typical_p <= 1:
            raise UserError(f"--typical-p must be in (0, 1] (got {self.typical_p}); 1 turns it off")
        if not self.repetition_penalty > 0:
            raise UserError(f"--repetition-penalty must be > 0 (got {self.repetition_penalty}); "
                            "1 turns it off")
        names = [n.strip() for n in self.samplers.split(",") if n.strip()]
        unknown = [n for n in names if n not in STAGE_NAMES]
        if unknown:
            raise UserError(f"unknown sampler stage(s) {unknown} in --samplers; known: "
                            + ",".join(STAGE_NAMES))
        if len(set(names)) != len(names):
            raise UserError(f"--samplers names a stage twice ({self.samplers}); list each once")
        self.samplers = ",".join(names)


@dataclass
class ModelConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    device: str = param("cpu", help="cpu, cuda, mps or auto")


@dataclass
class GenerateConfig(SamplerConfig, ModelConfig):
    prompt: str = param("", help="the text to continue (with --chat: the user message)")
    chat: bool = param(False, help="wrap the prompt in the model's chat template")
    system: str = param("", help="system message for --chat (empty = the template's default)")
    max_tokens: int = param(256, help="most tokens to generate")
    stop: list[str] = param([], help="stop strings: generation ends before the first one")
    json: bool = param(False, help="end with one JSON line {text, token_ids, finish_reason}")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_tokens <= 0:
            raise UserError(f"--max-tokens must be > 0 (got {self.max_tokens})")


@dataclass
class InspectConfig(SamplerConfig, ModelConfig):
    prompt: str = param("", help="the text whose next token is shown")
    chat: bool = param(False, help="wrap the prompt in the model's chat template")
    top: int = param(10, help="rows of the next-token table")
    steps: int = param(1, help="walk this many greedy steps, one table each")
    html: str = param("", help="also write an HTML view of the distribution to this file")
    png: str = param("", help="also write a PNG bar chart of the distribution to this file")
    json: bool = param(False, help="print {tokens: [{id, token, prob, logit}], entropy} per step")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top <= 0 or self.steps <= 0:
            raise UserError(f"--top and --steps must be > 0 (got {self.top}, {self.steps})")


@dataclass
class ProbeConfig(SamplerConfig, ModelConfig):
    temperature: float = param(0.0, help="0 = greedy answers, so a report is reproducible")
    out: str = param("", help="output folder for report.json, report.png, answers.jsonl")
    categories: str = param("", help="comma-separated categories to run (empty = all)")
    compare: str = param("", help="a second model to run side by side")
    compare_samplers: str = param("", help="or: a second sampler setting, e.g. "
                                            "'temperature=0.8,top_p=0.9'")
    max_tokens: int = param(64, help="most tokens per answer")
    bootstrap: int = param(2000, help="bootstrap resamples for the 95% intervals")
    overwrite: bool = param(False, help="replace an existing report in --out")
    resume: bool = param(False, help="reuse the answers an interrupted run left in --out")
    per_category: int = param(0, help="only the first N probes of each category (0 = all)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.out:
            raise UserError("probe needs --out DIR for report.json, report.png and answers.jsonl")
        if self.max_tokens <= 0 or self.bootstrap <= 0:
            raise UserError("--max-tokens and --bootstrap must be > 0")


@dataclass
class ChatConfig(SamplerConfig, ModelConfig):
    system: str = param("", help="system message (empty = the template's default)")
    max_tokens: int = param(256, help="most tokens per answer")


@dataclass
class DemoConfig(ModelConfig):
    max_tokens: int = param(40, help="tokens for the streamed chat answer")
    probes_per_category: int = param(1, help="probes per category in the short probe run")
