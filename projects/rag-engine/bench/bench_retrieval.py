"""Bench: ANN (FAISS HNSW) recall@10 against exact search, query latency p50/p95 per retriever,
our BM25 against bm25s in the same process, and ingest throughput (chunks/s).

    uv run python bench/bench_retrieval.py --store /tmp/rag-full        # after `rag-engine ingest`

Queries: the built-in question set (all questions whose gold document is in the store). Latency is
per query, the query embedding included for dense/hybrid (one MiniLM forward). The BM25 peer is
`bm25s` (method="lucene") indexed with the same tokens, timed alternately with ours
(`llm_shared.compare`). Ingest throughput: `--ingest-topics` topics of the Python docs ingested into
a fresh temporary store (chunk + embed + write), chunks/s. Prints a table; last line one JSON.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import bm25s
import numpy as np
from llm_shared import compare, emit_json, markdown_table
from rag_engine.bm25 import tokenize
from rag_engine.config import IngestConfig
from rag_engine.engine import Engine
from rag_engine.evalset import build_questions
from rag_engine.ingest import index_text, ingest


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def synthetic_scale(engine: Engine, queries: np.ndarray, n: int) -> dict[str, float]:
    """HNSW (same parameters as the store) vs exact numpy search on n noisy copies of the store's
    vectors: where an ANN index starts to pay off, and what recall it keeps."""
    import faiss
    from rag_engine.store import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

    rng = np.random.default_rng(0)
    base = engine.store.vectors([c.id for c in engine.retriever.chunks])  # (N0, dim)
    matrix = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.03, (n, base.shape[1]))
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    index = faiss.IndexHNSWFlat(matrix.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    start = time.perf_counter()
    index.add(matrix)
    build = time.perf_counter() - start
    index.hnsw.efSearch = HNSW_EF_SEARCH
    faiss.omp_set_num_threads(1)
    ann_t, exact_t, recalls = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        _, found = index.search(q[None, :], 10)
        t1 = time.perf_counter()
        scores = matrix @ q  # (n,)
        exact = np.argpartition(-scores, 10)[:10]
        t2 = time.perf_counter()
        ann_t.append(t1 - t0)
        exact_t.append(t2 - t1)
        recalls.append(len(set(found[0].tolist()) & set(exact.tolist())) / 10)
    return {"synthetic_vectors": n, "synthetic_build_s": round(build, 2),
            "synthetic_ann_recall_at_10": round(float(np.mean(recalls)), 4),
            "synthetic_hnsw_p50_ms": round(percentile(ann_t, 50), 3),
            "synthetic_exact_p50_ms": round(percentile(exact_t, 50), 3),
            "synthetic_hnsw_p95_ms": round(percentile(ann_t, 95), 3),
            "synthetic_exact_p95_ms": round(percentile(exact_t, 95), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="an ingested store (dir or postgresql://)")
    parser.add_argument("--encoder", default="all-minilm-l6-v2")
    parser.add_argument("--ingest-topics", type=int, default=12,
                        help="topics ingested into a fresh store to measure chunks/s (0: skip)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=20000,
                        help="also test HNSW vs exact on this many vectors: the store's vectors "
                        "repeated with Gaussian noise (0: skip)")
    args = parser.parse_args()

    engine = Engine.open(args.store, args.encoder, "cpu")
    retriever = engine.retriever
    sources = {c.source for c in retriever.chunks}
    queries = [q.question for q in build_questions() if q.source in sources]
    vectors = retriever.encoder.encode(queries)  # (Q, dim)

    recalls = []
    for q in vectors:
        exact = {i for i, _ in engine.store.dense_search(q, 10, exact=True)}
        ann = {i for i, _ in engine.store.dense_search(q, 10)}
        recalls.append(len(exact & ann) / 10)

    rows = []
    for name, fn in [
        ("dense HNSW (vector only)", lambda q, v: engine.store.dense_search(v, 10)),
        ("dense exact (vector only)", lambda q, v: engine.store.dense_search(v, 10, exact=True)),
        ("bm25 (no embedding)", lambda q, v: retriever.search(q, k=10, mode="bm25", cosine=False)),
        ("dense HNSW (+ query embedding)", lambda q, v: retriever.search(q, k=10, mode="dense")),
        ("hybrid RRF (+ query embedding)", lambda q, v: retriever.search(q, k=10)),
    ]:
        times = []
        for q, v in zip(queries, vectors, strict=True):
            start = time.perf_counter()
            fn(q, v)
            times.append(time.perf_counter() - start)
        rows.append({"retriever": name, "p50_ms": round(percentile(times, 50), 3),
                     "p95_ms": round(percentile(times, 95), 3)})

    header = index_text  # BM25 peer indexes the same text as ours
    meta_header = engine.store.meta().get("context_header", "1") == "1"
    corpus = [tokenize(header(c, meta_header)) for c in retriever.chunks]
    peer = bm25s.BM25(method="lucene")
    peer.index(corpus, show_progress=False)
    query_tokens = [tokenize(q) for q in queries]
    bm25_cmp = compare(lambda: [retriever.bm25.scores(t) for t in query_tokens],
                       lambda: [peer.get_scores(t) for t in query_tokens],
                       repeats=args.repeats, names=("ours", "bm25s"))

    ingest_row = {}
    if args.ingest_topics > 0:
        with tempfile.TemporaryDirectory() as tmp:
            config = IngestConfig(store=f"{tmp}/s", encoder=args.encoder, device="cpu",
                                  limit=args.ingest_topics)
            report = ingest([], config, encoder=retriever.encoder)
            ingest_row = {"ingest_chunks": report.chunks_written,
                          "ingest_seconds": round(report.seconds, 2),
                          "ingest_chunks_per_s": round(report.chunks_per_s, 2),
                          "embed_share": round(report.embed_seconds / report.seconds, 3)}

    synthetic = synthetic_scale(engine, vectors, args.synthetic) if args.synthetic else {}

    print(f"store {engine.store.location}: {len(retriever.chunks)} chunks, {len(queries)} queries")
    print(markdown_table(rows))
    print(f"\nANN recall@10 vs exact: {statistics.mean(recalls):.4f} (min {min(recalls):.2f})")
    print(f"BM25 scoring of {len(queries)} queries: ours {bm25_cmp.median_a * 1000:.1f} ms, "
          f"bm25s {bm25_cmp.median_b * 1000:.1f} ms (bm25s/ours = {bm25_cmp.ratio:.2f})")
    if ingest_row:
        print(f"ingest: {ingest_row}")
    if synthetic:
        print(f"synthetic scale: {synthetic}")
    emit_json({"chunks": len(retriever.chunks), "queries": len(queries),
               "ann_recall_at_10": round(statistics.mean(recalls), 4),
               **{f"{r['retriever'].split(' (')[0].replace(' ', '_')}"
                  f"{'_vec' if 'vector only' in r['retriever'] else ''}_p50_ms": r["p50_ms"]
                  for r in rows},
               **{f"{r['retriever'].split(' (')[0].replace(' ', '_')}"
                  f"{'_vec' if 'vector only' in r['retriever'] else ''}_p95_ms": r["p95_ms"]
                  for r in rows},
               **bm25_cmp.summary(), **ingest_row, **synthetic})


if __name__ == "__main__":
    main()
