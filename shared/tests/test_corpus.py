import pytest
from llm_shared import KINDS, UserError, corpus_text, iter_corpus


def test_kinds_are_nonempty_and_ids_unique():
    for kind in KINDS:
        docs = list(iter_corpus([kind]))
        assert len(docs) > 50, kind
        assert len({d.id for d in docs}) == len(docs), kind
        assert all(d.kind == kind and d.text.strip() for d in docs)


def test_order_is_deterministic():
    first = [d.id for d in iter_corpus(limit=300)]
    assert first == [d.id for d in iter_corpus(limit=300)]
    assert first == sorted(first[:79]) + first[79:]  # topics come sorted


def test_topics_are_the_language_reference():
    docs = {d.title: d.text for d in iter_corpus(["topics"])}
    assert len(docs) == 79
    assert docs["assert"].startswith('The "assert" statement\n')
    assert 'assert_stmt ::= "assert" expression ["," expression]' in docs["assert"]
    assert docs["while"].startswith('The "while" statement\n')


def test_sources_skip_test_suites():
    ids = [d.id for d in iter_corpus(["sources"])]
    assert "sources/json/__init__.py" in ids
    assert not any("/test/" in i or i.startswith("sources/test/") for i in ids)


def test_docstrings_name_their_object():
    doc = next(d for d in iter_corpus(["docstrings"]) if d.title == "json.dumps")
    assert "JSON" in doc.text


def test_limit_and_text_cut():
    assert len(list(iter_corpus(limit=5))) == 5
    assert len(corpus_text(["topics"], max_chars=1000)) == 1000


def test_unknown_kind():
    with pytest.raises(UserError, match="unknown corpus kind"):
        list(iter_corpus(["poems"]))
