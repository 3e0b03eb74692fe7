import numpy as np
import pytest
from rag_engine.chunking import TokenCounter, chunk_document, detect_headings
from rag_engine.loaders import load_file, python_headings
from rag_engine.types import SourceDocument


def test_detect_headings_worked_example():
    text = "Intro\n*****\n\ntext\n# Deep\n```\n# not a heading\n```\nSub\n=====\n"
    assert detect_headings(text) == [(0, 1, "Intro"), (18, 1, "Deep"), (49, 2, "Sub")]


@pytest.mark.parametrize("strategy", ["fixed", "recursive", "semantic"])
def test_chunks_point_back_into_the_document(strategy, tiny_encoder, samples):
    doc = SourceDocument("k.md", "k", samples["markdown"] * 3, "markdown")
    chunks = chunk_document(doc, tiny_encoder.tokenizer, strategy=strategy, size=24, overlap=4,
                            embed=tiny_encoder.encode)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text == doc.text[c.start:c.end] and c.text.strip() == c.text
    covered = np.zeros(len(doc.text), dtype=bool)
    for c in chunks:
        covered[c.start:c.end] = True
    # every non-space character of the document is in some chunk
    assert all(covered[i] for i, ch in enumerate(doc.text) if not ch.isspace())


def test_fixed_windows_have_size_and_overlap(tiny_encoder):
    doc = SourceDocument("t.txt", "t", " ".join(f"word{i}" for i in range(300)), "text")
    chunks = chunk_document(doc, tiny_encoder.tokenizer, strategy="fixed", size=50, overlap=10)
    counter = TokenCounter(doc.text, tiny_encoder.tokenizer)
    sizes = [counter.count(c.start, c.end) for c in chunks]
    assert all(s == 50 for s in sizes[:-1]) and 0 < sizes[-1] <= 50
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert counter.count(b.start, a.end) == 10  # exactly `overlap` tokens shared


def test_recursive_keeps_headings_and_code_blocks(tiny_encoder, samples):
    doc = SourceDocument("k.md", "k", samples["markdown"], "markdown")
    chunks = chunk_document(doc, tiny_encoder.tokenizer, strategy="recursive", size=60)
    by_heading = {c.heading for c in chunks}
    assert "Kitchen guide > Bread" in by_heading and "Kitchen guide > Soup" in by_heading
    code = [c for c in chunks if "def bake" in c.text]
    assert len(code) == 1 and "return" in code[0].text  # the fence (with a blank line) stayed whole
    assert all("Tomato" not in c.text for c in chunks if c.heading.endswith("Bread"))


def test_python_and_pdf_and_html_structure(docs_dir, tiny_encoder, samples):
    assert [h[1:] for h in python_headings(samples["python"])] == [(1, "Oven"), (2, "Oven.heat"),
                                                        (1, "timer")]
    pdf = load_file(docs_dir / "manual.pdf")
    chunks = chunk_document(pdf, tiny_encoder.tokenizer, size=100)
    assert [c.heading for c in chunks] == ["page 1", "page 2"]
    assert "blue lever" in chunks[1].text
    html = load_file(docs_dir / "garden.html")
    assert "var x" not in html.text and html.title == "Garden"
    heads = {c.heading for c in chunk_document(html, tiny_encoder.tokenizer, size=30)}
    assert "Garden notes > Watering" in heads
