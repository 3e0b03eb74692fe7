"""`ask` with the real embedded models: SmolLM2-135M-Instruct answers, MiniLM retrieves."""

import pytest
from rag_engine.answer import answer, attach_citations
from rag_engine.config import AskConfig, IngestConfig
from rag_engine.evaluate import parse_verdict
from rag_engine.ingest import ingest
from rag_engine.llm import get_llm
from rag_engine.rerank import ListwiseReranker, parse_ranking
from rag_engine.retrieve import Retriever
from rag_engine.store import open_store


@pytest.fixture(scope="module")
def real_retriever(tmp_path_factory, docs_dir, real_encoder):
    store = tmp_path_factory.mktemp("real") / "store"
    ingest([docs_dir], IngestConfig(store=str(store), device="cpu"), encoder=real_encoder)
    return Retriever(open_store(store), real_encoder)


def test_dense_retrieval_with_minilm_finds_the_right_chunk(real_retriever):
    for mode in ("dense", "bm25", "hybrid"):
        top = real_retriever.search("How long should I knead the dough?", k=1, mode=mode)[0]
        assert top.chunk.source.endswith("kitchen.md") and "Knead" in top.chunk.text, mode


def test_ask_streams_and_cites_with_smollm2(real_retriever):
    llm = get_llm("smollm2-135m-instruct", "cpu")
    pieces = []
    config = AskConfig(store="unused", max_new_tokens=40)
    result = answer("What does bread need?", real_retriever, llm, config, on_text=pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == result.raw  # streamed, piece by piece
    assert result.known and result.citations
    assert any(c["source"].endswith("kitchen.md") for c in result.citations)
    for c in result.citations:  # every citation names a shown chunk and its exact span
        shown = result.hits[c["n"] - 1].chunk
        assert (c["source"], c["start"], c["end"]) == (shown.source, shown.start, shown.end)
        assert f"[{c['n']}]" in result.text


def test_says_it_does_not_know_when_nothing_is_relevant(real_retriever):
    config = AskConfig(store="unused")
    # llm=None: the relevance gate must answer without calling the model at all
    result = answer("Which year did the Byzantine empire adopt its maritime tax code?",
                    real_retriever, None, config)
    assert not result.known and result.text.startswith("I don't know")
    assert result.best_relevance < config.min_relevance


def test_citation_check_drops_bad_marks_and_attributes(real_retriever):
    hits = real_retriever.search("bread soup kitchen", k=2, mode="bm25")
    raw = "Knead the dough for ten minutes. [7] The weather in Lima is mild."
    text, used, own, attributed = attach_citations(raw, hits, real_retriever)
    assert "[7]" not in text and own == 0
    assert attributed == 1 and used == [1 + [h.chunk.text for h in hits].index(
        next(h.chunk.text for h in hits if "Knead" in h.chunk.text))]
    assert text.endswith("The weather in Lima is mild.")  # unrelated sentence left uncited


def test_parsers_of_llm_replies():
    assert parse_ranking("[2] > [1] > [2] > [9]", 3) == [1, 0]
    assert parse_ranking("I think passage two", 3) == []
    assert parse_verdict("Yes.") is True and parse_verdict("no, it is not") is False
    assert parse_verdict("The passage says") is None and parse_verdict("") is None


def test_listwise_reranker_applies_the_reply_and_counts_parse_failures(real_retriever,
                                                                       monkeypatch):
    """The LLM's reply decides the order exactly; an unparsable reply keeps it and is counted."""
    import rag_engine.rerank as rerank

    reranker = ListwiseReranker(get_llm("tiny-llama", "cpu"), max_new_tokens=4)
    hits = real_retriever.search("garden", k=4)
    ids = [h.chunk.id for h in hits]
    prompts = []
    monkeypatch.setattr(rerank, "chat", lambda llm, messages, n: prompts.append(messages)
                        or "[3] > [1]")
    out = reranker.rerank("garden", hits)
    assert [h.chunk.id for h in out] == [ids[2], ids[0], ids[1], ids[3]]
    assert [h.score for h in out] == [1.0, 0.5, 1 / 3, 0.25]
    assert "Question: garden" in prompts[0][1]["content"]
    monkeypatch.setattr(rerank, "chat", lambda llm, messages, n: "I think passage two")
    assert [h.chunk.id for h in reranker.rerank("garden", hits)] == ids
    assert reranker.stats == {"calls": 2, "parse_failures": 1, "reordered": 1}
