"""Merge an adapter into its base and write a plain full model (safetensors), reporting logit drift.

For a QLoRA adapter the base is dequantised first (NF4 -> float), then W + B A s is folded in, so
the merged model computes what the 4-bit model with the adapter computed, up to float rounding:
`drift_vs_adapter` is that max |logit difference| on probe prompts. `drift_vs_float_base` compares
with the adapter applied to the original float base instead: the quantisation error a user would
see by merging onto the 16/32-bit weights. Leaves out re-quantising the merged model.
Run: `uv run qlora-tuner merge --adapter RUN/adapter --output RUN/merged`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_dir, load_causal_lm
from torch import nn

from .adapter_io import attach_adapter, read_adapter_config
from .config import MergeConfig
from .data import load_conversations, prompt_and_answer
from .lora import merge_and_unload

PROBE_PROMPTS = [
    "Write this person as 'Last, First (age)'. first name: Ada; last name: Lovelace; age: 36",
    "What is the capital of France?",
    "Explain LoRA in one sentence.",
]


@torch.no_grad()
def _logits(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(**batch).logits.float()  # (B, T, V)
    return out * batch["attention_mask"].unsqueeze(-1)  # padding positions do not count


def probe_batch(tokenizer: Any, data: Path | None, limit: int = 8) -> dict[str, torch.Tensor]:
    if data is not None:
        prompts = [prompt_and_answer(c)[0] for c in load_conversations(data)[:limit]]
    else:
        prompts = [[{"role": "user", "content": p}] for p in PROBE_PROMPTS]
    return tokenizer.apply_chat_template(prompts, add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True, padding=True)


def merge(config: MergeConfig) -> dict[str, Any]:
    if config.adapter is None or config.output is None:
        raise UserError("merge needs --adapter RUN/adapter and --output FOLDER")
    peft_config, extra = read_adapter_config(config.adapter)
    base_name = config.model or peft_config.get("base_model_name_or_path")
    base, tokenizer = load_causal_lm(base_name, device=config.device)
    batch = {k: v.to(base.device) for k, v in
             probe_batch(tokenizer, config.data).items()}
    float_base = copy.deepcopy(base) if extra.get("method") == "qlora" else None
    attach_adapter(base, config.adapter)
    with_adapter = _logits(base, batch)  # (B, T, V)
    merged = merge_and_unload(base)
    merged_logits = _logits(merged, batch)
    report = {"method": extra.get("method", "lora"),
              "drift_vs_adapter": float((merged_logits - with_adapter).abs().max())}
    if float_base is not None:
        attach_adapter(float_base, config.adapter, quantize=False)
        report["drift_vs_float_base"] = float((merged_logits - _logits(float_base, batch))
                                              .abs().max())
    with atomic_dir(config.output) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    report["output"] = str(config.output)
    report["max_logit"] = float(merged_logits.abs().max())
    return report
