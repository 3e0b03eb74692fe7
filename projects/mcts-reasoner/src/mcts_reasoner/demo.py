"""The chapter demo: one question about the topic to the embedded model.

Run: `uv run mcts-reasoner demo`. Replace with the chapter's real demonstration.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from llm_shared import load_causal_lm

from .config import DemoConfig


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    model, tokenizer = load_causal_lm(config.model, device=config.device)
    messages = [{"role": "user", "content": "In one sentence, what is CoT?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids.to(model.device), max_new_tokens=config.max_new_tokens,
                             do_sample=False)
    answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    return {"answer": answer.strip(), "new_tokens": int(out.shape[1] - ids.shape[1]),
            "seconds": round(time.perf_counter() - start, 2)}
