"""The embedded LLM behind `ask`, the listwise reranker and the judge: load once, greedy chat
generation, optional token streaming.

`chat(llm, messages, max_new_tokens, on_text=print_piece)` applies the chat template, decodes
greedily and calls `on_text` with each new piece of text as soon as it is decoded (transformers'
`TextStreamer` protocol). Leaves out sampling: answers and judgements must be reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from llm_shared import load_causal_lm, torch_threads
from transformers import TextStreamer


@dataclass
class LLM:
    model: Any
    tokenizer: Any
    name: str


@lru_cache(maxsize=2)
def get_llm(name: str, device: str = "auto") -> LLM:
    model, tokenizer = load_causal_lm(name, device=device)
    return LLM(model, tokenizer, name)


class _Callback(TextStreamer):
    def __init__(self, tokenizer: Any, on_text: Callable[[str], None]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.on_text = on_text

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.on_text(text)


def prompt_ids(llm: LLM, messages: list[dict[str, str]]) -> torch.Tensor:
    return llm.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                             return_tensors="pt", return_dict=True)["input_ids"]


# NOTE: greedy decoding runs on one thread. Measured on this 2-core machine while shared (load ~15):
# 48 tokens after a ~700-token prompt took 17.9 s wall / 4.6 s CPU with 1 thread and 158 s wall /
# 36 s CPU with 2 (OpenMP threads spin-waiting for each other on every small decode matmul).
DECODE_THREADS = 1


@torch.inference_mode()
def chat(llm: LLM, messages: list[dict[str, str]], max_new_tokens: int = 96, *,
         on_text: Callable[[str], None] | None = None) -> str:
    """Greedy reply to a chat; `on_text` receives the text as it is generated."""
    ids = prompt_ids(llm, messages).to(llm.model.device)  # (1, T)
    streamer = _Callback(llm.tokenizer, on_text) if on_text is not None else None
    threads = DECODE_THREADS if llm.model.device.type == "cpu" else torch.get_num_threads()
    with torch_threads(threads):
        out = llm.model.generate(ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 repetition_penalty=1.1, no_repeat_ngram_size=4,
                                 streamer=streamer,
                                 pad_token_id=llm.tokenizer.pad_token_id)  # (1, T + new)
    return llm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def truncate_tokens(llm_or_tokenizer: Any, text: str, max_tokens: int) -> str:
    tokenizer = getattr(llm_or_tokenizer, "tokenizer", llm_or_tokenizer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens]) + " …"
