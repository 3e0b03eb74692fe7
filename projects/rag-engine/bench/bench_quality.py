"""Bench: retrieval quality table (BM25 vs dense vs hybrid vs hybrid+rerank) on the built-in
question set, optionally with answer faithfulness/relevance: the `eval` command, as a table.

    uv run python bench/bench_quality.py --store /tmp/rag-full --questions 60 --answers 5

Last line one JSON object with recall@5 per setup and the answer metrics.
"""

from __future__ import annotations

import argparse
import json

from llm_shared import emit_json, markdown_table
from rag_engine.config import EvalConfig
from rag_engine.runeval import TABLE_COLUMNS, run_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--answers", type=int, default=0)
    parser.add_argument("--modes", nargs="+", default=["bm25", "dense", "hybrid", "hybrid+rerank"])
    parser.add_argument("--rerank", default="llm", help="reranker of hybrid+rerank (the README's "
                        "table: llm)")
    args = parser.parse_args()
    result = run_eval(EvalConfig(store=args.store, questions=args.questions, modes=args.modes,
                                 rerank=args.rerank, answers=args.answers, device="cpu"))
    print(f"{result['questions']} questions, {result['chunks']} chunks in {result['store']}")
    print(markdown_table(result["retrieval"], TABLE_COLUMNS))
    summary = {f"{r['setup']}_recall@5": r["recall@5"] for r in result["retrieval"]}
    summary.update({f"{r['setup']}_ndcg@10": r["ndcg@10"] for r in result["retrieval"]})
    if "answers" in result:
        answers = {k: v for k, v in result["answers"].items() if k != "examples"}
        print("\nanswers:", json.dumps(answers))
        for example in result["answers"]["examples"]:
            print(f"  Q: {example['question']}\n  A: {example['answer']}")
        summary.update(answers)
    emit_json({"questions": result["questions"], "chunks": result["chunks"], **summary})


if __name__ == "__main__":
    main()
