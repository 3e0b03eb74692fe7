"""Bench: one LoRA-wrapped projection, ours vs peft, forward + backward (same weights, same input).

Isolates the adapter layer from the rest of the model so the comparison needs seconds, not
minutes, and is less exposed to a busy machine than whole training steps. SmolLM2's largest
projection shape (576 -> 1536), r = 8, alpha = 16, batch 4 x 64 tokens, 20 passes per timing,
alternating, median (`llm_shared.compare`).
Run from projects/qlora-tuner: `uv run python bench/bench_lora_layer.py`; last line is JSON.
"""

from __future__ import annotations

import os

import peft
import torch
from llm_shared import compare, emit_json, markdown_table
from qlora_tuner.lora import LoRALinear
from torch import nn


class OneProjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = nn.Linear(576, 1536, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q_proj(x)


def passes(model: nn.Module, x: torch.Tensor):
    def run() -> None:
        for _ in range(20):
            model(x).square().mean().backward()

    return run


def main() -> None:
    torch.manual_seed(0)
    ours, base = OneProjection(), OneProjection()
    base.load_state_dict(ours.state_dict())
    ours.q_proj.requires_grad_(False)
    ours.q_proj = LoRALinear(ours.q_proj, r=8, alpha=16)
    theirs = peft.get_peft_model(base, peft.LoraConfig(r=8, lora_alpha=16,
                                                       target_modules=["q_proj"]))
    x = torch.randn(4, 64, 576)  # (B, T, C)
    result = compare(passes(ours, x), passes(theirs, x), repeats=9, names=("ours", "peft"))
    summary = result.summary()
    print(f"LoRA layer 576->1536, r=8, (4, 64) tokens, 20 fwd+bwd, cpu x{os.cpu_count()}")
    print(markdown_table([summary]))
    emit_json({**summary, "within_1_2x": summary["ours_vs_peft"] >= 1 / 1.2})


if __name__ == "__main__":
    main()
