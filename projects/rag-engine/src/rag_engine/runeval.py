"""Run the `eval` command: sample questions for the store, score each retrieval setup, optionally
answer and judge. Kept apart from evaluate.py (the metrics) so the CLI stays thin.
"""

from __future__ import annotations

from typing import Any

from llm_shared import progress_bar

from .config import AskConfig, EvalConfig
from .engine import Engine
from .evalset import load_questions, sample_questions
from .evaluate import evaluate_answers, evaluate_retrieval
from .llm import get_llm

TABLE_COLUMNS = ("setup", "questions", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10",
                 "ms_per_query", "rerank_parse_failures", "rerank_reordered")


def run_eval(config: EvalConfig, engine: Engine | None = None) -> dict[str, Any]:
    engine = engine or Engine.open(config.store, config.encoder, config.device, config.model)
    sources = {c.source for c in engine.retriever.chunks}
    if config.question_file:
        questions = [q for q in load_questions(config.question_file) if q.source in sources]
    else:
        questions = sample_questions(config.questions, config.seed, sources)
    rows = []
    with progress_bar() as bar:
        for mode in config.modes:
            task = bar.add_task(f"eval {mode}", total=len(questions))
            reranker = engine.reranker(config.rerank) if mode == "hybrid+rerank" else None
            if reranker is not None:
                reranker.stats.update(calls=0, parse_failures=0, reordered=0)
            rows.append(evaluate_retrieval(engine.retriever, questions, mode=mode,
                                           reranker=reranker,
                                           progress=lambda t=task: bar.advance(t)))
    result: dict[str, Any] = {"store": engine.store.location, "questions": len(questions),
                              "chunks": len(engine.retriever.chunks), "retrieval": rows}
    if config.answers > 0:
        ask = AskConfig(store=config.store, encoder=config.encoder, model=config.model)
        result["answers"] = evaluate_answers(engine.retriever, get_llm(config.model,
                                                                       config.device),
                                             questions[:config.answers], ask)
    return result
