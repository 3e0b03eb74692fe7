"""The three records that flow through the engine: a loaded document, a chunk of it, a search hit.

A `Chunk` always points back into its document: `text == document.text[start:end]`, so a citation
can name the exact character span. `heading` is the heading path ("Section > Subsection") at the
chunk's start. Leaves out any behaviour: loaders, chunkers and stores act on these.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceDocument:
    """A document as loaded: `source` is its path or `python-docs:<id>`, `kind` its format.

    `headings` are (char offset, level, title) when the loader knows the structure (PDF pages,
    Python classes/functions, HTML headings); None lets the chunker detect Markdown/reST headings.
    """

    source: str
    title: str
    text: str
    kind: str
    headings: tuple[tuple[int, int, str], ...] | None = None


@dataclass
class Chunk:
    source: str
    title: str
    kind: str
    start: int
    end: int
    heading: str
    text: str
    id: int | None = None

    def label(self) -> str:
        """'path chars 120-480 > Heading', the form citations print."""
        where = f"{self.source} chars {self.start}-{self.end}"
        return f"{where} › {self.heading}" if self.heading else where


@dataclass
class Hit:
    chunk: Chunk
    score: float
    # per retriever: bm25, dense (cosine to the query), rrf, rerank
    scores: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        c = self.chunk
        return {"id": c.id, "source": c.source, "title": c.title, "heading": c.heading,
                "start": c.start, "end": c.end, "score": round(float(self.score), 6),
                "text": c.text}
