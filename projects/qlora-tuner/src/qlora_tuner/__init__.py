"""qlora-tuner: LoRA / QLoRA fine-tuning from first principles (chapter 3.2, 微调你的专属模型).

Public API: NF4 (`quantize_nf4`, `NF4Tensor`, `NF4Linear`), LoRA (`LoRALinear`, `inject_lora`,
`merge_lora`, `unmerge_lora`, `merge_and_unload`, `quantize_model`), data (`load_conversations`,
`encode_conversation`), training (`TrainConfig`, `Trainer`, `train`), adapters in peft format
(`save_adapter`, `attach_adapter`, `load_with_adapter`), `exact_match`, `merge`, the embedded
task (`make_task`) and `run_demo`.
"""

from .adapter_io import attach_adapter, load_with_adapter, save_adapter
from .config import DemoConfig, EvalConfig, MergeConfig, TrainConfig
from .data import encode_conversation, load_conversations, record_to_messages
from .demo import run_demo
from .evaluate import exact_match
from .lora import (
    LoRALinear,
    inject_lora,
    merge_and_unload,
    merge_lora,
    quantize_model,
    select_targets,
    unmerge_lora,
)
from .merge import merge
from .nf4 import NF4_CODE, NF4Tensor, normal_code_book, quantize_nf4
from .quant_linear import NF4Linear
from .task import make_task
from .train import Trainer, causal_lm_loss, train

__all__ = [
    "NF4_CODE", "DemoConfig", "EvalConfig", "LoRALinear", "MergeConfig", "NF4Linear", "NF4Tensor",
    "TrainConfig", "Trainer", "attach_adapter", "causal_lm_loss", "encode_conversation",
    "exact_match", "inject_lora", "load_conversations", "load_with_adapter", "make_task", "merge",
    "merge_and_unload", "merge_lora", "normal_code_book", "quantize_model", "quantize_nf4",
    "record_to_messages", "run_demo", "save_adapter", "select_targets", "train", "unmerge_lora",
]
