"""Settings of mamba-moe; each field's help is the reference and becomes a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_shared import UserError, param

ARCHS = ("mamba", "transformer", "moe")


@dataclass
class TrainConfig:
    task: str = param("selective-copy", help="synthetic task", choices=("selective-copy", "mqar"))
    arch: str = param("mamba", help="model family; transformer and moe are matched to mamba's "
                      "parameter count (±5%%)", choices=ARCHS)
    output: Path | None = param(None, help="folder for the trained model (a transformers folder)")
    steps: int = param(600, help="optimizer steps")
    seq_len: int = param(64, help="L: context tokens before the separator")
    num_tokens: int = param(4, help="K: symbols to recall")
    vocab: int = param(8, help="V: distinct symbols (ids 2…V+1)")
    batch_size: int = param(16, help="sequences per step")
    lr: float = param(3e-3, help="AdamW peak learning rate (linear warm-up, cosine decay)")
    hidden_size: int = param(64, help="model width")
    layers: int = param(2, help="layers")
    state_size: int = param(8, help="mamba: SSM state size N per channel")
    num_experts: int = param(4, help="moe: experts per layer")
    top_k: int = param(2, help="moe: experts per token")
    capacity_factor: float = param(1.25, help="moe: expert capacity factor in training (0 = none)")
    aux_loss_coef: float = param(0.01, help="moe: weight of the Switch load-balancing loss")
    z_loss_coef: float = param(0.001, help="moe: weight of the router z-loss")
    scan: str = param("parallel", help="mamba: scan used in training",
                      choices=("parallel", "sequential"))
    curriculum: bool = param(True, help="grow the context length from 8 to --seq-len over the "
                             "first half of training (held-out scoring is at --seq-len)")
    eval_examples: int = param(256, help="held-out examples scored at the end")
    checkpoint_every: int = param(100, help="steps between checkpoints (for --resume)")
    seed: int = param(0, help="seed for init and data")
    resume: bool = param(False, help="continue from OUTPUT/checkpoint")
    overwrite: bool = param(False, help="replace an existing OUTPUT")

    def __post_init__(self) -> None:
        if self.output is None:
            raise UserError("train needs --output DIR for the trained model")
        for name in ("steps", "seq_len", "num_tokens", "vocab", "batch_size", "hidden_size",
                     "layers", "state_size", "eval_examples", "checkpoint_every",
                     "num_experts", "top_k"):
            if getattr(self, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be > 0 "
                                f"(got {getattr(self, name)})")
        if self.top_k > self.num_experts:
            raise UserError(f"--top-k {self.top_k} exceeds --num-experts {self.num_experts}")
        if self.lr <= 0 or self.capacity_factor < 0:
            raise UserError("--lr must be > 0 and --capacity-factor >= 0")


@dataclass
class DemoConfig:
    steps: int = param(250, help="selective-copy training steps of the demo's Mamba")
    seq_len: int = param(16, help="selective-copy context length L of the demo run")
    num_tokens: int = param(2, help="selective-copy symbols K of the demo run")
    output: Path | None = param(None, help="folder for the demo's files (default: a temp dir)")

    def __post_init__(self) -> None:
        if self.steps <= 0 or not 1 <= self.num_tokens <= self.seq_len:
            raise UserError("--steps must be > 0 and 1 <= --num-tokens <= --seq-len")


@dataclass
class LogitsConfig:
    model: Path | None = param(None, help="transformers folder of MambaForCausalLM or "
                               "MixtralForCausalLM")
    input: Path | None = param(None, help="JSON file: a list of equal-length token-id lists")
    output: Path | None = param(None, help="safetensors file to write (tensor 'logits' (B,T,V))")
    scan: str = param("parallel", help="mamba scan", choices=("parallel", "sequential"))

    def __post_init__(self) -> None:
        for name in ("model", "input", "output"):
            if getattr(self, name) is None:
                raise UserError(f"logits needs --{name}")


@dataclass
class GenerateConfig:
    model: Path | None = param(None, help="transformers folder (Mamba or Mixtral)")
    input: Path | None = param(None, help="JSON file: a list of equal-length token-id lists")
    max_new_tokens: int = param(16, help="tokens to generate greedily")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if self.model is None or self.input is None:
            raise UserError("generate needs --model DIR and --input ids.json")
        if not 1 <= self.max_new_tokens <= 4096:
            raise UserError(f"--max-new-tokens must be in 1…4096 (got {self.max_new_tokens})")


@dataclass
class CompareConfig:
    model: Path | None = param(None, help="transformers folder (Mamba or Mixtral)")
    seq_len: int = param(64, help="length of the random id sequences compared")
    batch_size: int = param(2, help="sequences compared")
    new_tokens: int = param(8, help="greedy tokens compared with transformers' generate")
    repeats: int = param(3, help="timed repeats (alternating ours / transformers)")
    seed: int = param(0, help="seed of the random ids")
    json: bool = param(False, help="print only the JSON line")

    def __post_init__(self) -> None:
        if self.model is None:
            raise UserError("compare needs --model DIR")
        if min(self.seq_len, self.batch_size, self.new_tokens, self.repeats) <= 0:
            raise UserError("--seq-len, --batch-size, --new-tokens and --repeats must be > 0")


@dataclass
class DataConfig:
    task: str = param("selective-copy", help="synthetic task", choices=("selective-copy", "mqar"))
    output: Path | None = param(None, help="JSON-lines file to write")
    examples: int = param(256, help="lines to write")
    seq_len: int = param(64, help="L: context tokens before the separator")
    num_tokens: int = param(4, help="K: symbols to recall")
    vocab: int = param(8, help="V: distinct symbols")
    seed: int = param(1, help="seed")
    overwrite: bool = param(False, help="replace an existing OUTPUT")

    def __post_init__(self) -> None:
        if self.output is None:
            raise UserError("data needs --output FILE.jsonl")
        if min(self.examples, self.seq_len, self.num_tokens, self.vocab) <= 0:
            raise UserError("--examples, --seq-len, --num-tokens and --vocab must be > 0")


@dataclass
class EvalConfig:
    model: Path | None = param(None, help="folder written by `train` (or any supported folder)")
    data: Path | None = param(None, help="JSON lines {\"input\": [...], \"target\": [...]}")
    output: Path | None = param(None, help="JSON lines of {\"prediction\": [K ids]}")
    num_tokens: int = param(0, help="K tokens to generate when lines carry no target "
                            "(0 = the model's task.json)")
    json: bool = param(False, help="print only the JSON line")
    overwrite: bool = param(False, help="replace an existing OUTPUT")

    def __post_init__(self) -> None:
        if self.model is None or self.data is None or self.output is None:
            raise UserError("eval needs --model DIR --data FILE.jsonl --output preds.jsonl")
