"""Prompts from the built-in corpus: chat questions and Python-docs continuations, split by id.

- chat: the model's chat template around a question about a Python topic or stdlib function
  ("Explain what `json.dumps` does in Python.").
- docs: the first `prefix_chars` characters of a language-reference topic or a stdlib docstring,
  as raw text for the model to continue.
Documents go to "train" (head training) or "eval" (bench, demo, tests) by a stable hash of their
id, so heads are never measured on the prompts they were trained on.
Leaves out multi-turn chats.
"""

from __future__ import annotations

import hashlib
from typing import Any

from llm_shared import iter_corpus

KINDS = ("chat", "docs")
SPLITS = ("train", "eval")

_QUESTIONS = (
    "Explain what {name} is in Python, with a short example.",
    "What does {name} do in Python? Answer briefly.",
    "Write a short explanation of {name} for a Python beginner.",
)


def split_of(doc_id: str) -> str:
    """One document in five goes to eval (sha1 of the id, so stable across runs)."""
    return "eval" if hashlib.sha1(doc_id.encode()).digest()[0] % 5 == 0 else "train"


def _documents(split: str, kinds: tuple[str, ...]):
    for doc in iter_corpus(kinds):
        if split_of(doc.id) == split and len(doc.text) >= 200:
            yield doc


def chat_prompts(tokenizer: Any, n: int, split: str = "eval") -> list[list[int]]:
    out = []
    for i, doc in enumerate(_documents(split, ("topics", "docstrings"))):
        if len(out) >= n:
            break
        if doc.kind == "docstrings" and i % 7:  # thin the many docstrings so topics mix in
            continue
        name = doc.title.replace("-", " ") if doc.kind == "topics" else f"`{doc.title}`"
        question = _QUESTIONS[len(out) % len(_QUESTIONS)].format(name=name)
        ids = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                            add_generation_prompt=True, return_dict=True)
        out.append(list(ids["input_ids"]))
    return out


def docs_prompts(tokenizer: Any, n: int, split: str = "eval",
                 prefix_chars: int = 400) -> list[list[int]]:
    out = []
    for i, doc in enumerate(_documents(split, ("topics", "docstrings"))):
        if len(out) >= n:
            break
        if doc.kind == "docstrings" and i % 5:
            continue
        text = doc.text[:prefix_chars]
        out.append(list(tokenizer(text)["input_ids"]))
    return out


def prompts(tokenizer: Any, kind: str, n: int, split: str = "eval") -> list[list[int]]:
    if kind == "chat":
        return chat_prompts(tokenizer, n, split)
    if kind == "docs":
        return docs_prompts(tokenizer, n, split)
    raise ValueError(f"kind must be one of {KINDS}")
