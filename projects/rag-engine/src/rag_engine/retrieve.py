"""Retrieval over a store: BM25, dense (HNSW or exact), hybrid by reciprocal rank fusion, metadata
filters, MMR diversity and an optional reranker.

    retriever = Retriever(open_store("rag-store"), encoder)
    hits = retriever.search("how does the with statement work?", k=5, mode="hybrid")

RRF (Cormack et al. 2009): score(d) = sum over retrievers r of 1 / (60 + rank_r(d)), ranks from 1;
ties broken by the dense rank, then by chunk id. MMR (Carbonell & Goldstein 1998) picks greedily
argmax lambda * sim(q, d) - (1 - lambda) * max over picked p of sim(d, p) with cosine similarities.
Every hit carries `scores["dense"]` (its cosine to the query), which `ask` uses to decide that
nothing relevant was found. Leaves out query rewriting and HyDE.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
from llm_shared import SentenceEncoder, UserError

from .bm25 import BM25, tokenize
from .ingest import index_text
from .llm import DECODE_THREADS, torch_threads
from .store import Store
from .types import Chunk, Hit

RRF_K = 60  # the constant of the RRF paper, also LlamaIndex's and Elasticsearch's default
FILTER_KEYS = ("source", "title", "kind", "heading")


def parse_filters(where: list[str]) -> list[tuple[str, str]]:
    """['kind=markdown', 'source=docs/*'] -> [('kind', 'markdown'), ('source', 'docs/*')]."""
    out = []
    for item in where:
        key, sep, pattern = item.partition("=")
        if not sep or key not in FILTER_KEYS:
            raise UserError(f"bad filter {item!r}; write KEY=GLOB with KEY one of "
                            + ", ".join(FILTER_KEYS))
        out.append((key, pattern))
    return out


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: [[3, 1], [1, 2]] -> [(1, 1/62 + 1/61), (3, 1/61), (2, 1/62)]."""
    scores: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for r, ranking in enumerate(rankings):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            first_seen.setdefault(item, (rank, r))
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]], kv[0]))


def mmr(query: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Indices of `vectors` (N, dim) picked by maximal marginal relevance, in pick order."""
    relevance = vectors @ query  # (N,)
    picked: list[int] = []
    redundancy = np.full(len(vectors), -np.inf)  # (N,) max similarity to any picked vector
    while len(picked) < min(k, len(vectors)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        score = lam * relevance - (1.0 - lam) * penalty
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return picked


class Retriever:
    def __init__(self, store: Store, encoder: SentenceEncoder) -> None:
        self.store, self.encoder = store, encoder
        self.refresh()

    def refresh(self) -> None:
        """Reload chunks and rebuild BM25 (after an ingest)."""
        self.chunks: list[Chunk] = self.store.chunks()
        self.by_id = {c.id: c for c in self.chunks}
        self.position = {c.id: n for n, c in enumerate(self.chunks)}
        header = self.store.meta().get("context_header", "1") == "1"
        self.bm25 = BM25([tokenize(index_text(c, header)) for c in self.chunks])

    def allowed(self, where: list[str]) -> set[int] | None:
        filters = parse_filters(where)
        if not filters:
            return None
        return {c.id for c in self.chunks
                if all(fnmatch.fnmatchcase(str(getattr(c, key)), pattern)
                       for key, pattern in filters)}

    def embed_query(self, query: str) -> np.ndarray:
        # One short text: a single thread avoids OpenMP spin-waits (see llm.DECODE_THREADS).
        with torch_threads(DECODE_THREADS):
            return self.encoder.encode([query])[0]  # (dim,)

    def search(self, query: str, *, k: int = 5, mode: str = "hybrid", candidates: int = 50,
               exact: bool = False, where: list[str] | None = None, mmr_lambda: float | None = None,
               reranker: Any = None, rerank_top: int = 10, cosine: bool = True) -> list[Hit]:
        """Top-k hits. `cosine=False` skips embedding the query in bm25 mode without MMR (then
        hits carry no `scores["dense"]`)."""
        if not self.chunks:
            return []
        allowed = self.allowed(where or [])
        need_vector = mode != "bm25" or mmr_lambda is not None or cosine
        q = self.embed_query(query) if need_vector else None
        fetch = max(k, candidates)
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            dense = self.store.dense_search(q, fetch, exact=exact, allowed=allowed)
        if mode in ("bm25", "hybrid"):
            mask = None
            if allowed is not None:
                mask = np.zeros(len(self.chunks), dtype=bool)
                mask[[self.position[i] for i in allowed]] = True
            top = self.bm25.top(tokenize(query), fetch, mask)
            sparse = [(self.chunks[i].id, s) for i, s in top]
        if mode == "dense":
            ranked = dense
        elif mode == "bm25":
            ranked = sparse
        elif mode == "hybrid":
            ranked = rrf([[i for i, _ in dense], [i for i, _ in sparse]])
        else:
            raise UserError(f"unknown mode {mode!r}; choose bm25, dense or hybrid")
        ids = [i for i, _ in ranked]
        vectors = self.store.vectors(ids) if ids and q is not None else None  # (len(ids), dim)
        similarity = vectors @ q if vectors is not None else None  # (len(ids),)
        extra = {"bm25": dict(sparse), "dense": dict(dense)}
        hits = []
        for n, (i, score) in enumerate(ranked):
            scores = {name: float(v[i]) for name, v in extra.items() if i in v}
            if similarity is not None:
                scores["dense"] = float(similarity[n])
            if mode == "hybrid":
                scores["rrf"] = float(score)
            hits.append(Hit(chunk=self.by_id[i], score=float(score), scores=scores))
        if reranker is not None and hits:
            hits = reranker.rerank(query, hits[:rerank_top]) + hits[rerank_top:]
        if mmr_lambda is not None and hits:
            order = mmr(q, vectors[[ids.index(h.chunk.id) for h in hits]], k, mmr_lambda)
            hits = [hits[i] for i in order]
        return hits[:k]
