"""Benchmark and demo prompts: chat requests about excerpts of the built-in Python docs corpus.

Excerpt lengths are drawn log-uniformly, so a batch mixes short questions with long documents,
the case where padding wastes the most and continuous batching helps the most. All prompts go
through the model's chat template (SmolLM2's adds the same system message to each, a shared
prefix the prefix cache can reuse). Deterministic for a given seed. Leaves out real traffic traces.
"""

from __future__ import annotations

import math
import random
from typing import Any

from llm_shared import iter_corpus

QUESTIONS = ("Explain what this Python documentation says, briefly.",
             "Summarise this in two sentences.",
             "What is the main idea of this text?",
             "Give one example of how to use what this describes.")


def mixed_messages(count: int, *, seed: int = 0, min_chars: int = 40,
                   max_chars: int = 1600) -> list[list[dict[str, str]]]:
    """`count` single-turn conversations with excerpts of log-uniform length in characters."""
    rng = random.Random(seed)
    docs = [d for d in iter_corpus(("topics", "docstrings"), limit=2000) if len(d.text) > max_chars]
    rng.shuffle(docs)
    conversations = []
    for i in range(count):
        doc = docs[i % len(docs)]
        length = int(math.exp(rng.uniform(math.log(min_chars), math.log(max_chars))))
        start = rng.randrange(0, len(doc.text) - length)
        excerpt = doc.text[start:start + length]
        question = QUESTIONS[i % len(QUESTIONS)]
        conversations.append([{"role": "user", "content": f"{question}\n\n{excerpt}"}])
    return conversations


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer.encode(text, add_special_tokens=False)


def mixed_prompt_ids(tokenizer: Any, count: int, *, seed: int = 0,
                     max_chars: int = 1600) -> list[list[int]]:
    return [chat_prompt_ids(tokenizer, m)
            for m in mixed_messages(count, seed=seed, max_chars=max_chars)]
