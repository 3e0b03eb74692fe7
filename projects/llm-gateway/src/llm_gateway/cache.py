"""A semantic response cache that never crosses tenants: MiniLM vectors, threshold, TTL, LRU.

Only deterministic requests are cached (`temperature` 0, no streaming difference: a streamed hit is
replayed as one chunk). The key space is split by (tenant, model) before any similarity is
computed, so tenant B can never receive tenant A's answer however similar the questions are. Within
a scope, an exact match of the normalised conversation is a hit at once; otherwise the nearest
entry by cosine similarity is a hit when it reaches `threshold`. Entries expire after `ttl_s`, and
the least recently used ones go when `max_entries` is reached.

`evaluate_threshold` is the harness behind the README's precision/recall table: labelled pairs of
(cached question, new question, same intent?) scored at several thresholds.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Embedder = Callable[[list[str]], np.ndarray]  # texts -> (N, D) unit rows


def normalise(messages: list[dict[str, Any]]) -> str:
    """One string per conversation: roles kept, case and whitespace folded.
    [{"role": "user", "content": " Hi  THERE "}] -> 'user: hi there'"""
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text ones
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        text = re.sub(r"\s+", " ", str(content or "")).strip().lower()
        lines.append(f"{message.get('role', 'user')}: {text}")
    return "\n".join(lines)


# Words that carry no intent in a question about code; everything else must agree.
_FILLER = frozenset({
    "a", "an", "the", "of", "in", "on", "to", "for", "from", "by", "with", "and", "or", "is",
    "are", "was", "be", "do", "does", "did", "can", "could", "should", "would", "will", "if",
    "at", "i", "me", "my", "you", "your", "we", "it", "its", "this", "that", "these", "those",
    "how", "what", "whats", "which", "who", "why", "when", "where", "way", "ways", "there",
    "please", "explain", "tell", "show", "give", "using", "use", "python", "pythons", "py",
    "whether", "one", "some", "any", "get", "need", "want", "like", "just", "about", "vs",
})
_SAME = {"dict": "dictionary", "dicts": "dictionary", "int": "integer", "str": "string",
         "virtualenv": "virtual environment", "venv": "virtual environment",
         "todays": "current", "today": "current", "2": "two"}


def content_words(text: str) -> list[str]:
    """The words that decide intent, in order, lightly normalised.
    'How do I sort a dict by its values?' -> ['sort', 'dictionary', 'value']"""
    words = []
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        word = _SAME.get(word.replace("'", ""), word.replace("'", ""))
        for part in word.split():
            if part in _FILLER:
                continue
            if len(part) > 4 and part.endswith("ies"):
                part = part[:-3] + "y"  # dictionaries -> dictionary
            elif len(part) > 3 and part.endswith("s") and not part.endswith("ss"):
                part = part[:-1]
            words.append(part)
    return words


def same_intent(cached: str, asked: str) -> bool:
    """The lexical guard on a similarity hit: the same content words in the same order.
    Mean-pooled vectors barely see order or one swapped noun ('string to int' vs 'int to
    string', 'sort by key' vs 'by value'); this rule refuses exactly those."""
    return content_words(cached) == content_words(asked)


def default_embedder() -> Embedder:
    from llm_shared import load_sentence_encoder

    encoder = load_sentence_encoder()
    return lambda texts: encoder.encode(texts)


@dataclass
class _Entry:
    scope: tuple[str, str]
    text: str
    vector: np.ndarray
    response: dict[str, Any]
    expires: float


@dataclass(frozen=True)
class CacheHit:
    response: dict[str, Any]
    similarity: float


class SemanticCache:
    def __init__(self, embed: Embedder, *, threshold: float = 0.8, ttl_s: float = 600.0,
                 max_entries: int = 10_000, guard: bool = True, clock=time.monotonic) -> None:
        self.embed = embed
        self.guard = guard
        self.threshold = threshold
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # id -> entry, LRU order

    @staticmethod
    def _id(scope: tuple[str, str], text: str) -> str:
        return hashlib.sha256(f"{scope[0]}\0{scope[1]}\0{text}".encode()).hexdigest()

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[key]

    def lookup(self, tenant: str, model: str, messages: list[dict[str, Any]]) -> CacheHit | None:
        now = self._clock()
        self._expire(now)
        scope, text = (tenant, model), normalise(messages)
        exact = self._id(scope, text)
        if exact in self._entries:
            self._entries.move_to_end(exact)
            return CacheHit(self._entries[exact].response, 1.0)
        candidates = [(k, e) for k, e in self._entries.items() if e.scope == scope]
        if not candidates:
            return None
        query = self.embed([text])[0]  # (D,)
        matrix = np.stack([e.vector for _, e in candidates])  # (N, D)
        scores = matrix @ query  # cosine: rows are unit vectors
        best = int(np.argmax(scores))
        key, entry = candidates[best]
        if scores[best] < self.threshold or (self.guard and not same_intent(entry.text, text)):
            return None
        self._entries.move_to_end(key)
        return CacheHit(entry.response, float(scores[best]))

    def store(self, tenant: str, model: str, messages: list[dict[str, Any]],
              response: dict[str, Any]) -> None:
        scope, text = (tenant, model), normalise(messages)
        key = self._id(scope, text)
        vector = self.embed([text])[0]
        self._entries[key] = _Entry(scope, text, vector, response, self._clock() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def evaluate_threshold(embed: Embedder, pairs: list[tuple[str, str, bool]],
                       thresholds: list[float], guard: bool = True) -> list[dict[str, float]]:
    """Hit precision and recall of the cache rule at each threshold on labelled pairs.
    A pair (cached, asked, same) is a hit when cos(cached, asked) >= threshold (and, with the
    guard, the content words agree); precision is the
    share of hits that were the same intent, recall the share of same-intent pairs that hit."""
    first = embed([normalise([{"role": "user", "content": a}]) for a, _, _ in pairs])
    second = embed([normalise([{"role": "user", "content": b}]) for _, b, _ in pairs])
    similarity = (first * second).sum(axis=1)  # (N,)
    same = np.array([s for _, _, s in pairs])
    agree = np.array([same_intent(a, b) if guard else True for a, b, _ in pairs])
    rows = []
    for threshold in thresholds:
        hit = (similarity >= threshold) & agree
        true_hits = int((hit & same).sum())
        rows.append({"threshold": threshold, "hits": int(hit.sum()),
                     "precision": true_hits / int(hit.sum()) if hit.any() else 1.0,
                     "recall": true_hits / int(same.sum()) if same.any() else 0.0})
    return rows
