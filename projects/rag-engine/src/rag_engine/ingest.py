"""Ingest: load -> hash -> chunk the changed documents -> embed -> one transactional store write.

Documents stream through in batches of about `WRITE_BATCH_CHUNKS` chunks: each batch is chunked,
embedded and written inside the store's one transaction, so a run holds one batch's chunks and
vectors in memory, not the corpus's.

A document is re-chunked only when the hash of (text, chunker settings) changed since the last
ingest, so re-ingesting a folder costs the changed files only. Everything that can fail (reading a
PDF, the encoder, the write) happens before or inside the store's single transaction: a failed
ingest leaves the store exactly as it was (and a store it was creating does not appear).
Exercised by `rag-engine ingest [PATH...] --store DIR`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llm_shared import SentenceEncoder, load_sentence_encoder, progress_bar

from .chunking import chunk_document
from .config import IngestConfig
from .loaders import builtin_documents, discover, load_file
from .store import Batch, DocumentRecord, Store, open_store, remove_new_store
from .types import Chunk, SourceDocument

# NOTE: 512 chunks x 384 floats is ~0.8 MB of vectors per batch; large enough that the encoder's
# batches and SQLite's executemany stay efficient, small enough that memory stays flat.
WRITE_BATCH_CHUNKS = 512


@lru_cache(maxsize=4)
def get_encoder(name: str, device: str = "auto") -> SentenceEncoder:
    """Load each encoder once per process (the server and tests reuse it)."""
    return load_sentence_encoder(name, device=device)


def index_text(chunk: Chunk, header: bool) -> str:
    """What is embedded and BM25-indexed: the chunk, optionally behind its title/heading path."""
    if not header:
        return chunk.text
    context = " > ".join(p for p in (chunk.title, chunk.heading) if p)
    return f"{context}\n{chunk.text}" if context else chunk.text


def embed(encoder: SentenceEncoder, texts: Sequence[str], batch_size: int = 32,
          description: str = "embedding") -> np.ndarray:
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)  # (N, dim)
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(texts))
        for start in range(0, len(texts), batch_size):
            out[start:start + batch_size] = encoder.encode(list(texts[start:start + batch_size]),
                                                           batch_size=batch_size)
            bar.advance(task, min(batch_size, len(texts) - start))
    return out


@dataclass
class IngestReport:
    store: str
    documents_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_written: int = 0
    chunks_total: int = 0
    unsupported: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time, all threads: a shared machine's wall time varies
    embed_seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "unsupported_count": len(self.unsupported),
                "chunks_per_s": round(self.chunks_per_s, 2)}


def _settings_key(config: IngestConfig) -> str:
    return json.dumps({"chunker": config.chunker, "tokens": config.chunk_tokens,
                       "overlap": config.overlap, "header": config.context_header},
                      sort_keys=True)


def document_hash(doc: SourceDocument, settings: str) -> str:
    digest = hashlib.sha256()
    for part in (settings, doc.kind, doc.title, doc.text):
        digest.update(part.encode("utf-8", errors="replace"))
        digest.update(b"\0")
    return digest.hexdigest()


def _documents(paths: Sequence[str | Path], config: IngestConfig, report: IngestReport,
               root: str | Path | None) -> Iterable[SourceDocument]:
    if not paths:
        return builtin_documents(config.corpus, config.limit, config.only)
    found = discover(paths, root)  # now, so a bad path fails before any model is loaded
    report.unsupported = [str(p) for p in found.unsupported]
    return (load_file(file) for file in found.files)


def ingest(paths: Sequence[str | Path], config: IngestConfig, *,
           encoder: SentenceEncoder | None = None, store: Store | None = None,
           root: str | Path | None = None) -> IngestReport:
    """Bring the store up to date with `paths` (the built-in Python docs when empty); with
    `root`, only files that resolve inside it (see `loaders.discover`)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    existed = Path(config.store).exists() or store is not None
    report = IngestReport(store=config.store)
    own_store = store is None
    try:
        documents = _documents(paths, config, report, root)
        store = store or open_store(config.store, create=True)
        encoder = encoder or get_encoder(config.encoder, config.device)
        store.check_encoder(config.encoder, encoder.dim)
        settings = _settings_key(config)
        known = store.document_hashes()
        meta = {"encoder": config.encoder, "dim": str(encoder.dim),
                "context_header": "1" if config.context_header else "0", "settings": settings}

        def embedded(records: list[DocumentRecord], chunks: list[Chunk]) -> Batch:
            t0 = time.perf_counter()
            vectors = embed(encoder, [index_text(c, config.context_header) for c in chunks],
                            config.batch_size)
            report.embed_seconds += time.perf_counter() - t0
            report.chunks_written += len(chunks)
            return Batch(records, chunks, vectors, [])

        def batches() -> Iterable[Batch]:
            records: list[DocumentRecord] = []
            chunks: list[Chunk] = []
            seen: set[str] = set()
            for doc in documents:
                report.documents_seen += 1
                seen.add(doc.source)
                digest = document_hash(doc, settings)
                if known.get(doc.source) == digest:
                    report.unchanged += 1
                    continue
                if doc.source in known:
                    report.updated += 1
                else:
                    report.added += 1
                records.append(DocumentRecord(doc.source, digest, doc.title, doc.kind))
                chunks.extend(chunk_document(
                    doc, encoder.tokenizer, strategy=config.chunker, size=config.chunk_tokens,
                    overlap=config.overlap, embed=lambda texts: encoder.encode(texts)))
                if len(chunks) >= WRITE_BATCH_CHUNKS:
                    yield embedded(records, chunks)
                    records, chunks = [], []
            if records:
                yield embedded(records, chunks)
            delete = sorted(set(known) - seen) if config.prune else []
            report.deleted = len(delete)
            if delete:
                yield Batch([], [], np.zeros((0, encoder.dim), np.float32), delete)

        store.write_batches(batches(), meta)
        report.chunks_total = store.count()
    except BaseException:
        if own_store and store is not None:
            store.close()
        if own_store:
            remove_new_store(config.store, existed)
        raise
    if own_store:
        store.close()
    report.seconds = time.perf_counter() - start
    report.cpu_seconds = round(time.process_time() - cpu_start, 3)
    return report
