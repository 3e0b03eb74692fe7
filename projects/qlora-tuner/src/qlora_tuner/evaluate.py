"""Exact-match evaluation: generate greedily for each prompt and compare with the reference answer.

The prompt is the conversation up to its last assistant turn, rendered with the chat template and
the generation prompt; the answer is generated greedily (left-padded batches), stops at the
template's end-of-turn token and counts when it equals the reference after stripping whitespace.
4-bit layers are dequantised once for the whole generation (`cached_dequantization`).
Leaves out sampling and fuzzy metrics.
Run: `uv run qlora-tuner eval --adapter RUN/adapter --data F`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from llm_shared import track
from torch import nn

from .data import prompt_and_answer
from .quant_linear import cached_dequantization


@dataclass
class ExactMatch:
    accuracy: float
    correct: int
    total: int
    predictions: list[tuple[str, str]]  # (prediction, reference)

    def summary(self) -> dict[str, Any]:
        return {"accuracy": round(self.accuracy, 4), "correct": self.correct, "total": self.total}


@torch.inference_mode()
def generate_answers(model: nn.Module, tokenizer: Any, prompts: list[list[dict[str, str]]],
                     batch_size: int = 16, max_new_tokens: int = 32) -> list[str]:
    """Greedy answers (decoded, special tokens dropped) for chat prompts."""
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    answers: list[str] = []
    try:
        with cached_dequantization(model):
            for start in track(range(0, len(prompts), batch_size), "generating"):
                chunk = prompts[start:start + batch_size]
                enc = tokenizer.apply_chat_template(chunk, add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True,
                                                    padding=True)
                enc = {k: v.to(device) for k, v in enc.items()}
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)  # (B, T + new)
                width = enc["input_ids"].shape[1]
                answers += tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return answers


def exact_match(model: nn.Module, tokenizer: Any, conversations: list[list[dict[str, str]]],
                batch_size: int = 16, max_new_tokens: int = 32) -> ExactMatch:
    """Share of conversations whose last assistant answer the model reproduces exactly."""
    pairs = [prompt_and_answer(c) for c in conversations]
    predictions = generate_answers(model, tokenizer, [p for p, _ in pairs], batch_size,
                                   max_new_tokens)
    scored = [(pred.strip(), ref.strip())
              for pred, (_, ref) in zip(predictions, pairs, strict=True)]
    correct = sum(pred == ref for pred, ref in scored)
    return ExactMatch(correct / max(1, len(scored)), correct, len(scored), scored)
