"""`ask`: retrieve, answer with the embedded LLM from numbered chunks, cite them as [1], [2].

Steps: (1) retrieve; if the best chunk's cosine to the question is below `min_relevance`, say "I
don't know" without calling the LLM (a 135M model would otherwise answer anyway); (2) prompt with
the top `context_chunks` chunks, numbered, and stream the greedy answer; (3) check citations:
markers that name no shown chunk are dropped, and a sentence the model left uncited is attributed
to the shown chunk most similar to it (cosine >= `ATTRIBUTION_MIN`), marked in `attributed`.
The model's own citations and the attributed ones are counted separately, so nobody mistakes one
for the other. Leaves out multi-turn chat and query rewriting.
Exercised by `rag-engine ask --store DIR "question"`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import AskConfig
from .llm import LLM, chat, truncate_tokens
from .retrieve import Retriever
from .types import Hit

IDK = "I don't know"
_MARK = re.compile(r"\s*\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_IDK_PHRASES = ("i don't know", "i do not know", "not mentioned", "does not contain",
                "no information")
# NOTE: below 0.35 cosine (MiniLM) a sentence and a chunk were usually unrelated on the Python docs.
ATTRIBUTION_MIN = 0.35
# NOTE: each chunk shown to the LLM is cut to 200 tokens so 3 chunks + answer stay under ~800
# tokens: prefill is most of an answer's CPU time for the 135M model.
CONTEXT_TOKENS = 200

# NOTE: one user message with the instruction after the sources and before the question. On the
# demo questions SmolLM2-135M gave short, on-topic answers this way; with the same instruction as a
# system message it drifted ("declares a variable named `global`") or looped. The "I don't know"
# case is decided by the relevance gate, not left to the 135M model.
INSTRUCTION = ("Using only the sources above, answer in one to three sentences and cite sources "
               "like [1].")


@dataclass
class Answer:
    question: str
    text: str
    known: bool
    raw: str = ""
    hits: list[Hit] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    model_citations: int = 0
    attributed: int = 0
    best_relevance: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.text, "known": self.known,
                "raw": self.raw, "citations": self.citations,
                "model_citations": self.model_citations, "attributed": self.attributed,
                "best_relevance": round(self.best_relevance, 4)}


def build_messages(question: str, hits: list[Hit], llm: LLM) -> list[dict[str, str]]:
    sources = "\n\n".join(
        f"[{n}] {h.chunk.heading or h.chunk.title}\n"
        f"{truncate_tokens(llm, h.chunk.text, CONTEXT_TOKENS)}" for n, h in enumerate(hits, 1))
    return [{"role": "user",
             "content": f"Sources:\n{sources}\n\n{INSTRUCTION}\n\nQuestion: {question}"}]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def cited_numbers(sentence: str) -> list[int]:
    return [int(m) for m in _MARK.findall(sentence)]


def strip_marks(sentence: str) -> str:
    return _MARK.sub("", sentence).strip()


def attach_citations(raw: str, hits: list[Hit], retriever: Retriever,
                     ) -> tuple[str, list[int], int, int]:
    """(text with valid [n] marks, cited numbers in order, model's own marks, attributed ones)."""
    vectors = retriever.store.vectors([h.chunk.id for h in hits])  # (H, dim)
    out, used, own, attributed = [], [], 0, 0
    for sentence in split_sentences(raw):
        marks = [n for n in cited_numbers(sentence) if 1 <= n <= len(hits)]
        body = strip_marks(sentence)
        if not body:
            continue
        if marks:
            own += 1
        else:
            similarity = vectors @ retriever.embed_query(body)  # (H,)
            best = int(np.argmax(similarity))
            if similarity[best] >= ATTRIBUTION_MIN:
                marks = [best + 1]
                attributed += 1
        marks = list(dict.fromkeys(marks))
        used += [n for n in marks if n not in used]
        out.append(body + "".join(f" [{n}]" for n in marks))
    return " ".join(out), used, own, attributed


def answer(question: str, retriever: Retriever, llm: LLM, config: AskConfig, *,
           reranker: Any = None, on_text: Callable[[str], None] | None = None) -> Answer:
    hits = retriever.search(question, k=config.context_chunks, mode=config.mode,
                            candidates=config.candidates, exact=config.exact, where=config.where,
                            mmr_lambda=config.mmr, reranker=reranker,
                            rerank_top=config.rerank_top)
    best = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
    if not hits or best < config.min_relevance:
        text = (f"{IDK}: nothing in the store is relevant enough (best cosine {best:.2f} < "
                f"{config.min_relevance}).")
        if on_text is not None:
            on_text(text)
        return Answer(question, text, known=False, hits=hits, best_relevance=best)
    raw = chat(llm, build_messages(question, hits, llm), config.max_new_tokens, on_text=on_text)
    if not raw or any(p in raw.lower() for p in _IDK_PHRASES):
        return Answer(question, raw or IDK, known=False, raw=raw, hits=hits,
                      best_relevance=best)
    text, used, own, attributed = attach_citations(raw, hits, retriever)
    citations = []
    for n in sorted(used):
        c = hits[n - 1].chunk
        citations.append({"n": n, "source": c.source, "title": c.title,
                          "heading": c.heading, "start": c.start, "end": c.end,
                          "text": c.text})
    return Answer(question, text, known=True, raw=raw, hits=hits, citations=citations,
                  model_citations=own, attributed=attributed, best_relevance=best)
