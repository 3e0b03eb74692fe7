"""The chapter demo: ingest part of the Python language reference, answer two questions with
citations, measure recall@5 of hybrid retrieval on the built-in question set.

Run: `uv run rag-engine demo` (under 90 s on 2 CPU cores; the store goes to a temporary
directory unless --store is given, and a second run on the same --store re-embeds nothing).
The 25 reference topics below (statements, ~53k characters, ~100 chunks) keep the embedding step
inside the time budget; `rag-engine ingest --store DIR` with no PATH ingests all 79 topics.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from .config import AskConfig, DemoConfig, IngestConfig
from .engine import Engine
from .evalset import sample_questions
from .evaluate import evaluate_retrieval
from .ingest import ingest

DEMO_TOPICS = ("assert", "augassign", "async", "break", "class", "continue", "context-managers",
               "del", "dict", "exceptions", "for", "global", "if", "lambda", "nonlocal", "pass",
               "raise", "return", "while", "with", "yield", "truth", "booleans", "try", "import")
QUESTIONS = ("What does the global statement do?",
             "How do I catch an exception and still run clean-up code?")


def run_demo(config: DemoConfig, out: Callable[[str], None] = print) -> dict[str, Any]:
    start = time.perf_counter()
    tmp = None if config.store else tempfile.mkdtemp(prefix="rag-demo-")
    store = config.store or f"{tmp}/store"
    try:
        report = ingest([], IngestConfig(store=store, encoder=config.encoder,
                                         device=config.device,
                                         only=[f"topics/{t}" for t in DEMO_TOPICS]))
        out(f"ingested {report.documents_seen} Python reference topics into {store}: "
            f"{report.chunks_written} chunks embedded ({report.chunks_per_s:.1f} chunks/s), "
            f"{report.chunks_total} in store")
        t_ingest = time.perf_counter() - start
        engine = Engine.open(store, config.encoder, config.device, config.model)
        sources = {c.source for c in engine.retriever.chunks}
        questions = sample_questions(10_000, 0, sources)
        row = evaluate_retrieval(engine.retriever, questions, mode="hybrid")
        out(f"hybrid retrieval on {row['questions']} questions with gold passages: "
            f"recall@5 {row['recall@5']:.3f}, MRR {row['mrr']:.3f}, nDCG@10 {row['ndcg@10']:.3f}")
        t_eval = time.perf_counter() - start - t_ingest
        cited = 0
        for question in QUESTIONS:
            out(f"\nQ: {question}\nA: ")
            ask = AskConfig(store=store, encoder=config.encoder, model=config.model,
                            max_new_tokens=config.max_new_tokens)
            result = engine.ask(question, ask, on_text=lambda p: print(p, end="", flush=True))
            out("")
            if result.known:
                out(f"   with checked citations: {result.text}")
                for c in result.citations:
                    out(f"   [{c['n']}] {c['source']} chars {c['start']}-{c['end']} › "
                        f"{c['heading']}")
                cited += int(bool(result.citations))
        engine.close()
        return {"recall_at_5": row["recall@5"], "mrr": row["mrr"], "ndcg_at_10": row["ndcg@10"],
                "questions": row["questions"], "chunks": report.chunks_total,
                "answers_with_citations": cited,
                "ingest_chunks_per_s": round(report.chunks_per_s, 2),
                "ingest_s": round(t_ingest, 1), "eval_s": round(t_eval, 1),
                "answer_s": round(time.perf_counter() - start - t_ingest - t_eval, 1),
                "seconds": round(time.perf_counter() - start, 1)}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
