"""Bench: chunking strategy vs retrieval quality — fixed windows, structure-aware recursive and
semantic breakpoints, each ingested into a fresh store from the same Python reference topics and
scored with the same span-based question set (gold spans do not depend on the chunker).

    uv run python bench/bench_chunkers.py --topics 25

Uses the demo's 25 topics by default (embedding all 79 three times takes long on 2 cores).
Prints a table (chunks, ingest CPU seconds, recall@1/5, MRR, nDCG@10 for dense and hybrid);
last line JSON.
"""

from __future__ import annotations

import argparse
import tempfile

from llm_shared import emit_json, markdown_table
from rag_engine.config import IngestConfig
from rag_engine.demo import DEMO_TOPICS
from rag_engine.evalset import sample_questions
from rag_engine.evaluate import evaluate_retrieval
from rag_engine.ingest import get_encoder, ingest
from rag_engine.retrieve import Retriever
from rag_engine.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=len(DEMO_TOPICS))
    parser.add_argument("--chunk-tokens", type=int, default=200)
    args = parser.parse_args()
    encoder = get_encoder("all-minilm-l6-v2", "cpu")
    only = [f"topics/{t}" for t in DEMO_TOPICS[:args.topics]]
    rows = []
    for strategy in ("fixed", "recursive", "semantic"):
        with tempfile.TemporaryDirectory() as tmp:
            config = IngestConfig(store=f"{tmp}/s", device="cpu", chunker=strategy, only=only,
                                  chunk_tokens=args.chunk_tokens)
            report = ingest([], config, encoder=encoder)
            retriever = Retriever(open_store(config.store), encoder)
            questions = sample_questions(10_000, 0, {c.source for c in retriever.chunks})
            for mode in ("dense", "hybrid"):
                row = evaluate_retrieval(retriever, questions, mode=mode)
                rows.append({"chunker": strategy, "mode": mode, "chunks": report.chunks_written,
                             "ingest_cpu_s": round(report.cpu_seconds, 1),
                             **{k: row[k] for k in ("questions", "recall@1", "recall@5", "mrr",
                                                    "ndcg@10")}})
            retriever.store.close()
    print(markdown_table(rows))
    emit_json({f"{r['chunker']}_{r['mode']}_recall@5": r["recall@5"] for r in rows}
              | {f"{r['chunker']}_chunks": r["chunks"] for r in rows})


if __name__ == "__main__":
    main()
