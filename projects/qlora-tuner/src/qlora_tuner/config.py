"""Settings of qlora-tuner: one dataclass per command; each field's help is the reference and
becomes a CLI flag (precedence: defaults -> --config file.toml -> flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_shared import EMBEDDED_LLM, UserError, param

METHODS = ("lora", "qlora", "full")
SCHEDULES = ("cosine", "linear", "constant")
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainConfig:
    data: Path | None = param(None, help="training JSONL (chat 'messages', Alpaca or ShareGPT)")
    output: Path = param(Path("runs/qlora"),
                         help="run folder: adapter/, checkpoints/, metrics.json")
    method: str = param("qlora", help="qlora: 4-bit NF4 base + LoRA; lora: float base + LoRA; "
                        "full: every weight trains", choices=METHODS)
    model: str = param(EMBEDDED_LLM, help="base model: embedded name, local folder or HF id")
    rank: int = param(8, help="LoRA rank r (size of the low-rank update)")
    alpha: float = param(16.0, help="LoRA alpha; the update is scaled by alpha/r "
                         "(rsLoRA: alpha/sqrt r)")
    dropout: float = param(0.05, help="dropout on the LoRA input branch")
    rslora: bool = param(False, help="rank-stabilised scaling alpha/sqrt(r) instead of alpha/r")
    target_modules: list[str] = param(DEFAULT_TARGETS, help="layer names to adapt (module name "
                                      "suffixes), 'all-linear', or one regex on full names")
    layers: list[int] | None = param(None, help="only adapt these block indices (peft's "
                                     "layers_to_transform); default all")
    blocksize: int = param(64, help="NF4 block size: one absmax scale per this many weights")
    double_quant: bool = param(True, help="also quantise the NF4 scales to 8 bits (QLoRA's "
                               "double quantisation)")
    lr: float = param(2e-4, help="peak learning rate of AdamW")
    weight_decay: float = param(0.0, help="AdamW decoupled weight decay")
    schedule: str = param("cosine", help="learning-rate decay after warm-up", choices=SCHEDULES)
    warmup_steps: int = param(10, help="linear warm-up steps from 0 to --lr")
    steps: int = param(100, help="optimizer steps in total (epochs repeat as needed)")
    batch_size: int = param(8, help="examples per micro-batch")
    grad_accum: int = param(1, help="micro-batches per optimizer step (gradient accumulation)")
    max_grad_norm: float = param(1.0, help="clip the gradient norm to this (0 = no clipping)")
    max_length: int = param(512, help="cut examples to this many tokens")
    group_by_length: bool = param(True, help="batch examples of similar length (less padding)")
    grad_checkpointing: bool = param(False, help="recompute activations in backward (less memory, "
                                     "~30%% more time)")
    eval_fraction: float = param(0.1, help="held-out share of the data for eval loss")
    eval_every: int = param(0, help="eval loss every N steps (0 = only at the end)")
    save_every: int = param(0, help="checkpoint every N steps (0 = only at the end)")
    resume: bool = param(False, help="continue from the newest checkpoint in --output")
    seed: int = param(0, help="seed for init, data order and dropout")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    dtype: str = param("auto", help="compute dtype: auto (bf16 on GPU, fp32 on CPU), float32, "
                       "bfloat16, float16")

    def __post_init__(self) -> None:
        if self.rank <= 0:
            raise UserError(f"--rank must be > 0 (got {self.rank}); pass e.g. --rank 8")
        if self.alpha <= 0:
            raise UserError(f"--alpha must be > 0 (got {self.alpha})")
        if not 0 <= self.dropout < 1:
            raise UserError(f"--dropout must be in [0, 1) (got {self.dropout})")
        for name in ("steps", "batch_size", "grad_accum", "max_length", "blocksize"):
            if getattr(self, name) <= 0:
                flag = "--" + name.replace("_", "-")
                raise UserError(f"{flag} must be > 0 (got {getattr(self, name)})")
        if self.lr <= 0:
            raise UserError(f"--lr must be > 0 (got {self.lr})")
        if not 0 <= self.eval_fraction < 1:
            raise UserError(f"--eval-fraction must be in [0, 1) (got {self.eval_fraction})")
        if self.warmup_steps < 0 or self.eval_every < 0 or self.save_every < 0:
            raise UserError("--warmup-steps, --eval-every and --save-every must be >= 0")
        if self.blocksize % 2:
            raise UserError(f"--blocksize must be even (got {self.blocksize}); 64 is QLoRA's")


@dataclass
class EvalConfig:
    adapter: Path | None = param(None, help="adapter folder (RUN/adapter) or full model folder")
    data: Path | None = param(None, help="JSONL to score; the last assistant turn is the answer")
    model: str | None = param(None, help="base model (default: the one the adapter names)")
    limit: int = param(0, help="score only the first N examples (0 = all)")
    batch_size: int = param(16, help="prompts generated together")
    max_new_tokens: int = param(32, help="longest answer generated")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.batch_size <= 0 or self.max_new_tokens <= 0 or self.limit < 0:
            raise UserError("--batch-size and --max-new-tokens must be > 0, --limit >= 0")


@dataclass
class MergeConfig:
    adapter: Path | None = param(None, help="adapter folder written by `train` (RUN/adapter)")
    output: Path | None = param(None, help="folder for the merged full model (safetensors)")
    model: str | None = param(None, help="base model (default: the one the adapter names)")
    data: Path | None = param(None, help="JSONL whose prompts probe the logit drift "
                              "(default: built-in prompts)")
    device: str = param("auto", help="auto, cpu, cuda or mps")


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="base model")
    train_size: int = param(64, help="generated training examples")
    eval_size: int = param(16, help="held-out examples scored by exact match")
    steps: int = param(16, help="QLoRA optimizer steps")
    batch_size: int = param(4, help="examples per step")
    rank: int = param(8, help="LoRA rank")
    lr: float = param(3e-3, help="peak learning rate")
    layers_from: int = param(18, help="adapt blocks from this index up (less backward work); "
                             "0 = all")
    seed: int = param(0, help="seed of the task generator and the run")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        for name in ("train_size", "eval_size", "steps", "batch_size", "rank"):
            if getattr(self, name) <= 0:
                flag = "--" + name.replace("_", "-")
                raise UserError(f"{flag} must be > 0 (got {getattr(self, name)})")
