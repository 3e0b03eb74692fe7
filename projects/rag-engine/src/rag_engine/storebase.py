"""What every store offers the engine: the `Store` interface, `DocumentRecord` and the HNSW
parameters both stores use. Implemented by `DirStore` (store.py: SQLite + FAISS) and `PgStore`
(pgstore.py: PostgreSQL + pgvector); both import this module and not each other, so `open_store`
can dispatch to either without an import cycle. Leaves out any storage itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from llm_shared import UserError

from .types import Chunk

# NOTE: HNSW parameters: M=32, efConstruction=80, efSearch=64 gave ANN recall@10 >= 0.99 against
# exact search on the Python docs (bench/bench_retrieval.py) at a few hundred microseconds a query.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
# Below this many allowed chunks a filtered query scans them exactly instead of over-fetching ANN.
EXACT_FILTER_LIMIT = 2000


@dataclass
class DocumentRecord:
    source: str
    hash: str
    title: str
    kind: str


@dataclass
class Batch:
    """One slice of an ingest: documents (replacing their old chunks), their chunks and vectors
    (N, dim), and sources to drop."""

    documents: list[DocumentRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    delete: list[str]


class Store:
    """What every store offers the engine (SQLite directory or PostgreSQL)."""

    location: str

    def meta(self) -> dict[str, str]: ...
    def document_hashes(self) -> dict[str, str]: ...
    def chunks(self) -> list[Chunk]: ...
    def vectors(self, ids: Iterable[int]) -> np.ndarray: ...
    def count(self) -> int: ...
    def write_batches(self, parts: Iterable[Batch], meta: dict[str, str]) -> bool:
        """Consume `parts` (produced lazily, e.g. embedded batch by batch) in ONE transaction:
        all or nothing. Returns whether anything was written (no part wrote a row: no change)."""
        ...

    def write(self, documents: list[DocumentRecord], chunks: list[Chunk], vectors: np.ndarray,
              delete: Iterable[str], meta: dict[str, str]) -> None:
        """Replace the chunks of `documents`, drop sources in `delete`, all or nothing."""
        self.write_batches([Batch(documents, chunks, vectors, list(delete))], meta)
    def dense_search(self, query: np.ndarray, k: int, *, exact: bool = False,
                     allowed: set[int] | None = None) -> list[tuple[int, float]]: ...
    def close(self) -> None: ...

    def check_encoder(self, name: str, dim: int) -> None:
        """One-line error when the store was built with another embedding model."""
        meta = self.meta()
        if "encoder" not in meta:
            return
        if meta["encoder"] != name or int(meta["dim"]) != dim:
            raise UserError(
                f"store {self.location} was built with encoder '{meta['encoder']}' "
                f"(dim {meta['dim']}) but this run uses '{name}' (dim {dim}); pass "
                f"--encoder {meta['encoder']} or ingest into a new store")
