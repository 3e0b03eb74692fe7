"""Shared fixtures: a folder of small documents in every supported format, the tiny encoder
(random BERT with MiniLM's tokenizer: milliseconds a batch), and a store ingested from it."""

import os

import pytest

os.environ.setdefault("LLM_FULLSTACK_NO_PROGRESS", "1")

MARKDOWN = """# Kitchen guide

Intro paragraph about the kitchen.

## Bread

Bread needs flour, water, salt and yeast. Knead the dough for ten minutes.

```python
def bake(minutes):

    return "bread after " + str(minutes)
```

## Soup

Tomato soup is made from tomatoes, onions and stock. Simmer it for half an hour.
"""

HTML = """<html><head><title>Garden</title><script>var x = 1;</script></head><body>
<h1>Garden notes</h1><p>Roses need sun and well drained soil.</p>
<h2>Watering</h2><p>Water the garden early in the morning.</p>
<pre>hose.open()
hose.close()</pre></body></html>"""

PYTHON = '''"""A tiny module."""


class Oven:
    """Heats things."""

    def heat(self, degrees):
        return degrees * 2


def timer(seconds):
    """Wait for the food."""
    return seconds
'''


def write_pdf(path, pages):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))


@pytest.fixture(scope="session")
def docs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    (root / "kitchen.md").write_text(MARKDOWN)
    (root / "garden.html").write_text(HTML)
    (root / "oven.py").write_text(PYTHON)
    (root / "notes.txt").write_text("Bicycles have two wheels.\n\nTrains run on rails.\n")
    write_pdf(root / "manual.pdf", [
        "The engine starts with the red button. Hold it for three seconds until the green light "
        "comes on, then release it and wait for the pump to fill the boiler with water.",
        "Stop the engine with the blue lever. Pull it towards you slowly; the pressure gauge "
        "drops to zero within a minute and the safety valve closes by itself."])
    (root / "image.xyz").write_bytes(b"\x00\x01")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture(scope="session")
def tiny_encoder():
    from rag_engine.ingest import get_encoder

    return get_encoder("tiny-bert", "cpu")


@pytest.fixture(scope="session")
def real_encoder():
    from rag_engine.ingest import get_encoder

    return get_encoder("all-minilm-l6-v2", "cpu")


def tiny_ingest_config(store, **kw):
    from rag_engine.config import IngestConfig

    return IngestConfig(store=str(store), encoder="tiny-bert", device="cpu", **kw)


@pytest.fixture
def tiny_store(tmp_path, docs_dir, tiny_encoder):
    from rag_engine.ingest import ingest

    store = tmp_path / "store"
    report = ingest([docs_dir], tiny_ingest_config(store), encoder=tiny_encoder)
    return store, report


@pytest.fixture(scope="session")
def samples():
    return {"markdown": MARKDOWN, "html": HTML, "python": PYTHON}


@pytest.fixture(scope="session")
def make_config():
    """IngestConfig for a store path with the tiny encoder on the CPU."""
    return tiny_ingest_config
