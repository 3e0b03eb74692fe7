import numpy as np
import pytest
from llm_shared import UserError
from rag_engine.ingest import ingest
from rag_engine.retrieve import Retriever
from rag_engine.store import DirStore, open_store


def snapshot(path):
    store = DirStore(path)
    state = (store.document_hashes(), [(c.id, c.source, c.start, c.end, c.text)
                                       for c in store.chunks()], store.meta())
    store.close()
    return state


def test_ingest_formats_and_unsupported(tiny_store):
    path, report = tiny_store
    assert report.added == 5 and report.documents_seen == 5
    assert sorted(p.rsplit("/", 1)[-1] for p in report.unsupported) == ["data.csv", "image.xyz"]
    store = DirStore(path)
    kinds = {c.kind for c in store.chunks()}
    assert kinds == {"markdown", "html", "python", "text", "pdf"}
    assert store.count() == report.chunks_total == report.chunks_written > 5


def test_store_survives_restart_and_ann_equals_exact(tiny_store, tiny_encoder):
    path, _ = tiny_store
    first = open_store(path)
    query = tiny_encoder.encode(["bread and yeast"])[0]
    exact = first.dense_search(query, 5, exact=True)
    ann = first.dense_search(query, 5)
    first.close()
    again = open_store(path)  # a new process would do exactly this
    assert again.dense_search(query, 5) == ann
    assert [i for i, _ in ann] == [i for i, _ in exact]  # tiny store: HNSW finds the exact top 5
    assert (path / "hnsw.faiss").is_file()


def test_incremental_reingest_only_changed(tmp_path, docs_dir, tiny_encoder, make_config):
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(docs_dir, docs)
    config = make_config(tmp_path / "s")
    ingest([docs], config, encoder=tiny_encoder)
    before = snapshot(tmp_path / "s")
    again = ingest([docs], config, encoder=tiny_encoder)
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 5, 0)
    assert snapshot(tmp_path / "s") == before
    (docs / "notes.txt").write_text("Boats float on water.\n")
    changed = ingest([docs], config, encoder=tiny_encoder)
    assert (changed.updated, changed.unchanged) == (1, 4)
    after = snapshot(tmp_path / "s")
    texts = [c[4] for c in after[1] if c[1].endswith("notes.txt")]
    assert texts == ["Boats float on water."]
    assert [c for c in after[1] if not c[1].endswith("notes.txt")] == \
        [c for c in before[1] if not c[1].endswith("notes.txt")]  # other chunks untouched


def test_failed_ingest_leaves_store_as_before(tmp_path, docs_dir, tiny_encoder, monkeypatch,
                                              make_config):
    config = make_config(tmp_path / "s")
    ingest([docs_dir / "kitchen.md"], config, encoder=tiny_encoder)
    before = snapshot(tmp_path / "s")
    # a corrupt PDF: the whole ingest fails with a one-line UserError, nothing is written
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.md").write_text("# New\n\nnew text")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    with pytest.raises(UserError, match="broken.pdf"):
        ingest([bad], config, encoder=tiny_encoder)
    assert snapshot(tmp_path / "s") == before
    # a failure in the middle of the SQLite transaction (after some rows were inserted)
    from rag_engine.store import Batch

    real_write = DirStore.write_batches

    def failing_write(self, parts, meta):
        broken = (Batch(p.documents, p.chunks, p.vectors[:-1], p.delete) for p in parts)
        return real_write(self, broken, meta)  # zip strict fails

    monkeypatch.setattr(DirStore, "write_batches", failing_write)
    with pytest.raises(ValueError):
        ingest([docs_dir], config, encoder=tiny_encoder)
    assert snapshot(tmp_path / "s") == before
    # a failed first ingest does not leave a half-made store behind
    with pytest.raises(ValueError):
        ingest([docs_dir], make_config(tmp_path / "new"), encoder=tiny_encoder)
    assert not (tmp_path / "new").exists()


def test_other_encoder_is_refused(tiny_store, real_encoder):
    from rag_engine.config import IngestConfig

    path, _ = tiny_store
    with pytest.raises(UserError, match="tiny-bert"):
        ingest([], IngestConfig(store=str(path), limit=1), encoder=real_encoder)
    with pytest.raises(UserError, match="no store"):
        open_store(path / "missing")


def test_stale_index_is_rebuilt(tiny_store, tiny_encoder):
    path, _ = tiny_store
    (path / "hnsw.json").write_text('{"generation": "old"}')
    store = DirStore(path)
    query = tiny_encoder.encode(["garden"])[0]
    assert [i for i, _ in store.dense_search(query, 3)] == \
        [i for i, _ in store.dense_search(query, 3, exact=True)]
    assert '"old"' not in (path / "hnsw.json").read_text()


def test_filters_and_mmr(tiny_store, tiny_encoder):
    path, _ = tiny_store
    retriever = Retriever(open_store(path), tiny_encoder)
    hits = retriever.search("engine button", k=3, where=["kind=pdf"])
    assert hits and all(h.chunk.kind == "pdf" for h in hits)
    hits = retriever.search("bread", k=10, mode="bm25", where=["source=*kitchen.md"])
    assert hits and all(h.chunk.source.endswith("kitchen.md") for h in hits)
    assert "bread" in hits[0].chunk.text.lower()
    diverse = retriever.search("garden water", k=4, mmr_lambda=0.3)
    assert len({h.chunk.id for h in diverse}) == 4
    with pytest.raises(UserError, match="KEY=GLOB"):
        retriever.search("x", where=["colour=red"])


def test_hnsw_recall_on_random_vectors(tmp_path):
    from rag_engine.store import DirStore, DocumentRecord
    from rag_engine.types import Chunk

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = DirStore(tmp_path / "s", create=True)
    chunks = [Chunk("s", "t", "text", i, i + 1, "", "x") for i in range(3000)]
    store.write([DocumentRecord("s", "h", "t", "text")], chunks, vectors, [],
                {"encoder": "random", "dim": "32"})
    recall = []
    for q in rng.normal(size=(50, 32)).astype(np.float32):
        q /= np.linalg.norm(q)
        exact = {i for i, _ in store.dense_search(q, 10, exact=True)}
        recall.append(len(exact & {i for i, _ in store.dense_search(q, 10)}) / 10)
    assert np.mean(recall) >= 0.9  # measured 0.97+ (random 32-d vectors are hard for HNSW)


def test_additions_extend_the_index_and_replacements_rebuild_it(tmp_path):
    from rag_engine.store import DirStore, DocumentRecord
    from rag_engine.types import Chunk

    rng = np.random.default_rng(1)

    def unit(n):
        v = rng.normal(size=(n, 16)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def doc(name, n):
        return ([DocumentRecord(name, "h" + name, name, "text")],
                [Chunk(name, name, "text", i, i + 1, "", name) for i in range(n)], unit(n))

    store = DirStore(tmp_path / "s", create=True)
    meta = {"encoder": "random", "dim": "16"}
    store.write(*doc("a", 40), [], meta)
    first = store._index
    store.write(*doc("b", 30), [], meta)  # a new document only: vectors added, graph kept
    assert store._index is first and first.ntotal == store.count() == 70
    reopened = DirStore(tmp_path / "s")  # the saved index carries the additions
    q = unit(1)[0]
    assert [i for i, _ in reopened.dense_search(q, 5)] == \
        [i for i, _ in reopened.dense_search(q, 5, exact=True)]
    store.write(*doc("a", 10), [], meta)  # a replacement: HNSW cannot delete, so rebuild
    assert store._index is not first and store._index.ntotal == store.count() == 40


def test_ingest_writes_in_bounded_batches_inside_one_transaction(tmp_path, docs_dir,
                                                                  tiny_encoder, make_config,
                                                                  monkeypatch):
    import importlib

    from rag_engine.ingest import ingest
    from rag_engine.store import DirStore

    ingest_module = importlib.import_module("rag_engine.ingest")  # the package exports ingest()

    monkeypatch.setattr(ingest_module, "WRITE_BATCH_CHUNKS", 3)
    sizes = []
    real = DirStore.write_batches

    def spy(self, parts, meta):
        def counted():
            for part in parts:
                sizes.append(len(part.chunks))
                yield part
        return real(self, counted(), meta)

    monkeypatch.setattr(DirStore, "write_batches", spy)
    report = ingest([docs_dir], make_config(tmp_path / "s"), encoder=tiny_encoder)
    assert len(sizes) >= 3 and sum(sizes) == report.chunks_written == report.chunks_total
    # A batch closes once it reaches 3 chunks: it holds at most 2 + one document's chunks.
    per_doc = max(len(c) for c in _chunks_per_source(DirStore(tmp_path / "s")).values())
    assert max(sizes) <= 2 + per_doc

    # A failure in a later batch rolls back the earlier ones: the store stays as it was.
    (docs_dir / "extra1.md").write_text("# One\n\nFirst new page about ferns and moss.")
    (docs_dir / "extra2.md").write_text("# Two\n\nSecond new page about lichens.")
    before = DirStore(tmp_path / "s").document_hashes()
    calls = {"n": 0}
    encode = tiny_encoder.encode

    def failing(texts, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("encoder died")
        return encode(texts, **kwargs)

    monkeypatch.setattr(ingest_module, "WRITE_BATCH_CHUNKS", 1)
    monkeypatch.setattr(tiny_encoder, "encode", failing)
    try:
        with pytest.raises(RuntimeError, match="encoder died"):
            ingest([docs_dir], make_config(tmp_path / "s"), encoder=tiny_encoder)
    finally:
        (docs_dir / "extra1.md").unlink()
        (docs_dir / "extra2.md").unlink()
    assert DirStore(tmp_path / "s").document_hashes() == before


def _chunks_per_source(store):
    out = {}
    for chunk in store.chunks():
        out.setdefault(chunk.source, []).append(chunk)
    return out
