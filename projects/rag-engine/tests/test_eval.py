from rag_engine.evalset import Question, build_questions, is_relevant, sample_questions
from rag_engine.evaluate import evaluate_retrieval
from rag_engine.ingest import ingest
from rag_engine.loaders import builtin_documents
from rag_engine.retrieve import Retriever
from rag_engine.store import open_store
from rag_engine.types import Chunk


def test_question_set_gold_spans_are_sections():
    questions = build_questions()
    assert len(questions) > 100
    texts = {d.source: d.text for d in builtin_documents()}
    for q in questions:
        section = texts[q.source][q.start:q.end]
        assert section.startswith(q.heading) and len(section) >= 300
    assert sample_questions(5, seed=1) == sample_questions(5, seed=1)


def test_relevance_by_span_overlap():
    q = Question("id", "q?", "s", 100, 500, "h")
    chunk = lambda a, b, src="s": Chunk(src, "t", "k", a, b, "", "x")  # noqa: E731
    assert is_relevant(chunk(150, 250), q)  # inside the section
    assert is_relevant(chunk(0, 400), q)  # covers most of it
    assert not is_relevant(chunk(450, 1000), q)  # mostly another section
    assert not is_relevant(chunk(150, 250, "other"), q)


def test_evaluate_retrieval_on_python_docs(tmp_path, tiny_encoder, make_config):
    config = make_config(tmp_path / "s", only=["topics/assert", "topics/with", "topics/global"])
    ingest([], config, encoder=tiny_encoder)
    retriever = Retriever(open_store(tmp_path / "s"), tiny_encoder)
    questions = sample_questions(100, 0, {c.source for c in retriever.chunks})
    assert {q.source for q in questions} <= {c.source for c in retriever.chunks}
    row = evaluate_retrieval(retriever, questions, mode="bm25")
    assert row["questions"] == len(questions) >= 3
    assert row["recall@1"] <= row["recall@5"] <= row["recall@10"] <= 1.0
    # the questions name their section's heading, so BM25 finds them on a 3-topic store
    assert row["recall@10"] == 1.0 and row["mrr"] > 0.5
