"""Command line of rag-engine: a thin layer over the library (see `rag-engine --help`).

    rag-engine ingest [PATH...] --store DIR        # no PATH: the built-in Python docs
    rag-engine search --store DIR --k 5 --json "question"
    rag-engine ask --store DIR "question"          # streams the answer, then its sources
    rag-engine eval --store DIR --json             # BM25 vs dense vs hybrid vs hybrid+rerank
    rag-engine questions --out q.json              # the built-in question set with gold spans
    rag-engine serve --store DIR --port 8000       # POST /ingest /search /ask
    rag-engine demo
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from llm_shared import (
    add_config_args,
    build_config,
    cli_entry,
    emit_json,
    markdown_table,
)

from .config import AskConfig, DemoConfig, EvalConfig, IngestConfig, SearchConfig, ServeConfig

EPILOG = ("--store takes a directory (created on first ingest) or postgresql://user:pass@host/db "
          "(a server with pgvector).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-engine",
        description="Retrieval-augmented generation over your documents or the built-in Python "
                    "docs: ingest, hybrid search, cited answers, evaluation (chapter 4.2, "
                    "检索增强生成).", epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("ingest", help="add or update documents in a store",
                            description="Chunk, embed and store Markdown, text, HTML, PDF and "
                            "Python files (folders are walked); with no PATH, the built-in Python "
                            "docs. Only changed documents are re-embedded. Unsupported files are "
                            "listed, skipped and counted.", epilog=EPILOG)
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the "
                   "built-in Python docs)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_config_args(p, IngestConfig)

    p = commands.add_parser("search", help="retrieve chunks for a query",
                            description="BM25, dense (HNSW or --exact) or hybrid (RRF) search, "
                            "with filters, MMR and reranking.", epilog=EPILOG)
    p.add_argument("query", help="the question or keywords")
    p.add_argument("--json", action="store_true", help="print a JSON list of hits (source, "
                   "title, start, end, score, text)")
    add_config_args(p, SearchConfig)

    p = commands.add_parser("ask", help="answer a question with citations",
                            description="Retrieve, then answer with the LLM from the numbered "
                            "chunks, citing them as [1], [2]; streams the answer. Says it does "
                            "not know when nothing relevant is found.", epilog=EPILOG)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object (no streaming)")
    add_config_args(p, AskConfig)

    p = commands.add_parser("eval", help="retrieval and answer quality on a question set",
                            description="recall@k, MRR, nDCG@10 for each setup on questions with "
                            "gold passages built from the Python docs (or --question-file); "
                            "with --answers N, faithfulness and answer relevance judged by the "
                            "LLM (parse failures counted).", epilog=EPILOG)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    add_config_args(p, EvalConfig)

    p = commands.add_parser("questions", help="write the built-in question set (gold spans)")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--n", type=int, default=None, help="sample this many (default: all)")
    p.add_argument("--seed", type=int, default=0)

    p = commands.add_parser("serve", help="HTTP API: POST /ingest /search /ask, GET /health",
                            description="A small JSON API over one store for other programs. "
                            "Example: curl -d '{\"query\": \"with statement\", \"k\": 3}' "
                            "localhost:8000/search", epilog=EPILOG)
    add_config_args(p, ServeConfig)

    p = commands.add_parser("demo", help="ingest Python docs, answer two questions, recall@5",
                            description="Under 90 s on 2 CPU cores: ingest part of the Python "
                            "language reference, answer two questions with citations and measure "
                            "recall@5 of hybrid retrieval; last line JSON.")
    add_config_args(p, DemoConfig)
    return parser


def _print_hits(hits: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([h.as_json() for h in hits], ensure_ascii=False))
        return
    for n, hit in enumerate(hits, 1):
        text = " ".join(hit.chunk.text.split())
        print(f"[{n}] {hit.score:.4f}  {hit.chunk.label()}\n    {text[:200]}")


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest

    config = build_config(IngestConfig, args)
    report = ingest(args.paths, config)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
        return 0
    for path in report.unsupported:
        print(f"skipped (unsupported type): {path}", file=sys.stderr)
    print(f"{report.store}: {report.documents_seen} documents seen, {report.added} added, "
          f"{report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted; "
          f"{report.chunks_written} chunks written ({report.chunks_per_s:.1f} chunks/s), "
          f"{report.chunks_total} in store; {len(report.unsupported)} unsupported files skipped")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from .engine import Engine

    config = build_config(SearchConfig, args)
    engine = Engine.open(config.store, config.encoder, config.device)
    _print_hits(engine.search(args.query, config), args.json)
    return 0


def _print_answer(result) -> None:
    for c in result.citations:
        where = f"{c['source']} chars {c['start']}-{c['end']}"
        print(f"  [{c['n']}] {where}" + (f" › {c['heading']}" if c["heading"] else ""))


def _cmd_ask(args: argparse.Namespace) -> int:
    from .engine import Engine

    config = build_config(AskConfig, args)
    engine = Engine.open(config.store, config.encoder, config.device, config.model)
    if args.json:
        print(json.dumps(engine.ask(args.question, config).as_json(), ensure_ascii=False))
        return 0
    result = engine.ask(args.question, config,
                        on_text=lambda piece: print(piece, end="", flush=True))
    print()
    if result.known:
        if result.text != result.raw:
            print(f"\nWith checked citations: {result.text}")
        print(f"\nSources ({result.model_citations} sentences cited by the model, "
              f"{result.attributed} attributed by similarity):")
        _print_answer(result)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .runeval import TABLE_COLUMNS, run_eval

    config = build_config(EvalConfig, args)
    result = run_eval(config)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(markdown_table(result["retrieval"], TABLE_COLUMNS))
    if result.get("answers"):
        print("\nanswers:", json.dumps({k: v for k, v in result["answers"].items()
                                        if k != "examples"}))
    emit_json({"questions": result["questions"], **{
        f"{row['setup']}_recall@5": row["recall@5"] for row in result["retrieval"]}})
    return 0


def _cmd_questions(args: argparse.Namespace) -> int:
    from .evalset import build_questions, sample_questions, save_questions

    questions = build_questions() if args.n is None else sample_questions(args.n, args.seed)
    save_questions(args.out, questions)
    print(f"wrote {len(questions)} questions to {args.out}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(build_config(ServeConfig, args))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(build_config(DemoConfig, args), out=print)
    emit_json(result)
    return 0


COMMANDS = {"ingest": _cmd_ingest, "search": _cmd_search, "ask": _cmd_ask, "eval": _cmd_eval,
            "questions": _cmd_questions, "serve": _cmd_serve, "demo": _cmd_demo}


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)
