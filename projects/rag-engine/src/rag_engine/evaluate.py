"""`eval`: retrieval quality per setup (BM25, dense, hybrid, hybrid+rerank) on a question set with
gold passages, and answer quality judged by the LLM.

Retrieval: recall@1/5/10, MRR and nDCG@10 (metrics.py) over the top 10 hits, plus mean latency.
Answers (ragas-style, `answers` > 0): faithfulness = share of cited sentences that the judge LLM
says their cited chunk supports; the judge must answer Yes or No, anything else is a parse failure,
counted and reported, never dropped silently. Answer relevance = cosine of the question and the
answer embeddings (ragas generates questions back from the answer with an LLM first; SmolLM2-135M
cannot do that reliably, so we embed the answer directly). Exercised by `rag-engine eval`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .answer import Answer, answer, cited_numbers, split_sentences, strip_marks
from .config import AskConfig
from .evalset import Question, is_relevant
from .llm import LLM, chat, truncate_tokens
from .metrics import first_relevant, ndcg_at_k, recall_at_k, reciprocal_rank
from .retrieve import Retriever

EVAL_DEPTH = 10


def evaluate_retrieval(retriever: Retriever, questions: list[Question], *, mode: str = "hybrid",
                       reranker: Any = None, exact: bool = False,
                       progress: Callable[[], None] | None = None) -> dict[str, float]:
    base = "hybrid" if mode == "hybrid+rerank" else mode
    totals = {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr": 0.0, "ndcg@10": 0.0}
    seconds = []
    for q in questions:
        start = time.perf_counter()
        hits = retriever.search(q.question, k=EVAL_DEPTH, mode=base, exact=exact,
                                reranker=reranker if mode == "hybrid+rerank" else None,
                                cosine=False)
        seconds.append(time.perf_counter() - start)
        relevance = [is_relevant(h.chunk, q) for h in hits]
        n_relevant = sum(is_relevant(c, q) for c in retriever.chunks if c.source == q.source)
        rank = first_relevant(relevance)
        for k in (1, 5, 10):
            totals[f"recall@{k}"] += recall_at_k(rank, k)
        totals["mrr"] += reciprocal_rank(relevance)
        totals["ndcg@10"] += ndcg_at_k(relevance, n_relevant, EVAL_DEPTH)
        if progress is not None:
            progress()
    n = max(len(questions), 1)
    row = {"setup": mode, "questions": len(questions),
           **{key: round(value / n, 4) for key, value in totals.items()},
           "ms_per_query": round(1000 * float(np.median(seconds)) if seconds else 0.0, 2)}
    if reranker is not None and mode == "hybrid+rerank":
        row["rerank_parse_failures"] = reranker.stats["parse_failures"]
        row["rerank_reordered"] = reranker.stats["reordered"]
    return row


def judge_support(llm: LLM, passage: str, statement: str) -> bool | None:
    """True/False when the judge answers Yes/No, None when its reply cannot be parsed."""
    messages = [{"role": "user", "content":
                 f"Passage:\n{truncate_tokens(llm, passage, 256)}\n\nStatement: {statement}\n\n"
                 "Is the statement supported by the passage? Answer Yes or No."}]
    return parse_verdict(chat(llm, messages, max_new_tokens=4))


def parse_verdict(reply: str) -> bool | None:
    """'Yes.' -> True, 'no' -> False, anything else (e.g. 'The passage says') -> None."""
    words = reply.strip().lower().split()
    word = words[0].strip(".,!:;\"'") if words else ""
    return True if word == "yes" else False if word == "no" else None


def evaluate_answers(retriever: Retriever, llm: LLM, questions: list[Question],
                     config: AskConfig) -> dict[str, Any]:
    supported = judged = parse_failures = claims = 0
    relevance: list[float] = []
    unknown = 0
    examples: list[dict[str, Any]] = []
    for q in questions:
        result: Answer = answer(q.question, retriever, llm, config)
        if not result.known:
            unknown += 1
            continue
        a_vec, q_vec = retriever.encoder.encode([strip_marks(result.text), q.question])
        relevance.append(float(a_vec @ q_vec))
        for sentence in split_sentences(result.text):
            for n in cited_numbers(sentence):
                claims += 1
                verdict = judge_support(llm, result.hits[n - 1].chunk.text, strip_marks(sentence))
                if verdict is None:
                    parse_failures += 1
                else:
                    judged += 1
                    supported += int(verdict)
        examples.append({"question": q.question, "answer": result.text})
    return {"answered": len(questions) - unknown, "said_unknown": unknown,
            "cited_claims": claims, "judged": judged, "judge_parse_failures": parse_failures,
            "faithfulness": round(supported / judged, 4) if judged else None,
            "answer_relevance": round(float(np.mean(relevance)), 4) if relevance else None,
            "examples": examples[:3]}
