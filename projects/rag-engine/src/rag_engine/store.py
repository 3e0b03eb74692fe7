"""The default store: one directory holding `chunks.sqlite` (chunks, metadata, vectors) and
`hnsw.faiss` (a FAISS HNSW index over the same vectors), surviving restarts.

Writes are one SQLite transaction, fed batch by batch (a failed ingest rolls back and leaves the
store as it was; only one batch's chunks and vectors are in memory). The HNSW file is derived
data: a write that only adds documents adds their vectors to the index; one that replaces or
deletes rebuilds it from SQLite (HNSW cannot remove points). Either way it is written atomically
with the store's generation number beside it, so a crash between the two is detected on the next
open and healed by a rebuild. The first ingest records the encoder name and dimension;
opening the store with another encoder is a one-line error. `open_store` also dispatches
`postgresql://` URLs to `PgStore` (pgstore.py). Leaves out concurrent writers (one at a time).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from llm_shared import UserError, atomic_write

# Re-exported: callers and benches import the interface and the HNSW settings from here too.
from .storebase import (
    EXACT_FILTER_LIMIT,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    Batch,
    DocumentRecord,
    Store,
)
from .types import Chunk

__all__ = ["EXACT_FILTER_LIMIT", "HNSW_EF_CONSTRUCTION", "HNSW_EF_SEARCH", "HNSW_M", "Batch",
           "DirStore", "DocumentRecord", "Store", "open_store", "remove_new_store"]


def _exact(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int,
           ) -> list[tuple[int, float]]:
    if len(ids) == 0:
        return []
    scores = matrix @ query  # (N,) cosine, rows are unit vectors
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(ids[i]), float(scores[i])) for i in top]


class DirStore(Store):
    """chunks.sqlite + hnsw.faiss in one directory."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        db = self.path / "chunks.sqlite"
        if not db.is_file():
            if not create:
                raise UserError(f"no store at {self.path}; run `rag-engine ingest --store "
                                f"{self.path}` first")
            if self.path.exists() and any(self.path.iterdir()):
                raise UserError(f"{self.path} exists, is not empty and is not a rag-engine store "
                                "(no chunks.sqlite); pass a new or existing store directory")
            self.path.mkdir(parents=True, exist_ok=True)
        # Explicit BEGIN/COMMIT below; the server's threads share it under the engine's lock.
        self.db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS documents (source TEXT PRIMARY KEY, hash TEXT, title TEXT,
                                                  kind TEXT);
            CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT,
                title TEXT, kind TEXT, start INTEGER, "end" INTEGER, heading TEXT, text TEXT,
                vector BLOB);
            CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
        """)
        self._matrix: tuple[np.ndarray, np.ndarray] | None = None
        self._index = None

    # reading
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def document_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT source, hash FROM documents"))

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunks(self) -> list[Chunk]:
        rows = self.db.execute('SELECT id, source, title, kind, start, "end", heading, text '
                               "FROM chunks ORDER BY id")
        return [Chunk(id=r[0], source=r[1], title=r[2], kind=r[3], start=r[4], end=r[5],
                      heading=r[6], text=r[7]) for r in rows]

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        if self._matrix is None:
            rows = self.db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            dim = int(self.meta().get("dim", 0))
            matrix = (np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
                      if rows else np.zeros((0, dim), dtype=np.float32))  # (N, dim)
            self._matrix = (ids, matrix)
        return self._matrix

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        all_ids, matrix = self._all_vectors()
        position = {int(i): n for n, i in enumerate(all_ids)}
        return matrix[[position[int(i)] for i in ids]]  # (len(ids), dim)

    # the ANN index
    def _index_files(self) -> tuple[Path, Path]:
        return self.path / "hnsw.faiss", self.path / "hnsw.json"

    def _build_index(self) -> None:
        import faiss

        ids, matrix = self._all_vectors()
        dim = matrix.shape[1]
        hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index = faiss.IndexIDMap2(hnsw)
        if len(ids):
            index.add_with_ids(matrix, ids)
        self._save_index(index, len(ids))

    def _save_index(self, index, count: int) -> None:
        import faiss

        index_file, stamp = self._index_files()
        tmp = index_file.with_suffix(".tmp")
        faiss.write_index(index, str(tmp))
        os.replace(tmp, index_file)
        with atomic_write(stamp) as handle:
            json.dump({"generation": self.meta().get("generation", "0"), "count": count}, handle)
        self._index = index

    def _index_of(self, generation: str):
        """The index as of `generation`: the one in memory, or the file if stamped with it."""
        import faiss

        if self._index is not None:
            return self._index
        index_file, stamp = self._index_files()
        try:
            fresh = json.loads(stamp.read_text())["generation"] == generation
        except (OSError, ValueError, KeyError):
            return None
        return faiss.read_index(str(index_file)) if fresh and index_file.is_file() else None

    def _ann(self):
        import faiss

        if self._index is None:
            self._index = self._index_of(self.meta().get("generation", "0"))
            if self._index is None:
                self._build_index()  # stale or missing after a crash: rebuild from SQLite
        faiss.downcast_index(self._index.index).hnsw.efSearch = HNSW_EF_SEARCH
        return self._index

    def dense_search(self, query: np.ndarray, k: int, *, exact: bool = False,
                     allowed: set[int] | None = None) -> list[tuple[int, float]]:
        ids, matrix = self._all_vectors()
        query = np.asarray(query, dtype=np.float32).reshape(-1)  # (dim,)
        if allowed is not None and (exact or len(allowed) <= EXACT_FILTER_LIMIT):
            mask = np.isin(ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            return _exact(matrix[mask], ids[mask], query, k)
        if exact:
            return _exact(matrix, ids, query, k)
        fetch = k if allowed is None else k * 8
        import faiss

        # One query: one thread (FAISS's OpenMP pool only adds spin-waits for a single vector).
        faiss.omp_set_num_threads(1)
        scores, found = self._ann().search(query[None, :], min(fetch, max(len(ids), 1)))
        hits = [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]
        if allowed is not None:
            hits = [h for h in hits if h[0] in allowed]
            if len(hits) < k:  # the filter is too selective for over-fetching: scan exactly
                return self.dense_search(query, k, exact=True, allowed=allowed)
        return hits[:k]

    # writing
    def write_batches(self, parts: Iterable[Batch], meta: dict[str, str]) -> bool:
        old_generation = self.meta().get("generation", "0")
        last_id = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]
        replaced = wrote = False
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for part in parts:
                for source in [*part.delete, *(d.source for d in part.documents)]:
                    gone = self.db.execute("DELETE FROM chunks WHERE source = ?", (source,))
                    replaced |= gone.rowcount > 0
                    self.db.execute("DELETE FROM documents WHERE source = ?", (source,))
                self.db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?)",
                                    [(d.source, d.hash, d.title, d.kind) for d in part.documents])
                self.db.executemany(
                    'INSERT INTO chunks (source, title, kind, start, "end", heading, text, vector) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(c.source, c.title, c.kind, c.start, c.end, c.heading, c.text,
                      np.asarray(v, dtype=np.float32).tobytes())
                     for c, v in zip(part.chunks, part.vectors, strict=True)])
                wrote |= bool(part.documents or part.delete)
            if not wrote:
                self.db.execute("ROLLBACK")
                return False
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                [*meta.items(), ("generation", str(int(old_generation) + 1))])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._matrix = None
        index = None if replaced else self._index_of(old_generation)
        if index is None:
            self._build_index()
        else:  # only additions: add the new rows instead of rebuilding the graph
            rows = self.db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id",
                                   (last_id,)).fetchall()
            if rows:
                index.add_with_ids(np.stack([np.frombuffer(r[1], np.float32) for r in rows]),
                                   np.array([r[0] for r in rows], dtype=np.int64))  # (n, dim)
            self._save_index(index, self.count())
        return True

    def close(self) -> None:
        self.db.close()


def open_store(spec: str | Path, *, create: bool = False) -> Store:
    """A `DirStore` for a path, a `PgStore` for a postgresql:// URL."""
    text = str(spec)
    if text.startswith(("postgresql://", "postgres://")):
        from .pgstore import PgStore

        return PgStore(text)
    return DirStore(text, create=create)


def remove_new_store(spec: str | Path, existed: bool) -> None:
    """Undo the directory a failed first ingest created, so the store is 'as it was': absent."""
    text = str(spec)
    if not existed and not text.startswith(("postgresql://", "postgres://")):
        with contextlib.suppress(OSError):
            shutil.rmtree(text)
