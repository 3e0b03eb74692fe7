"""Split a document into chunks that remember where they came from (char span, heading path).

Three strategies (sizes in tokens of the encoder's tokenizer, so a chunk fits the encoder window):
- `fixed`: windows of `size` tokens every `size - overlap` tokens, blind to structure.
- `recursive`: sections between headings first (Markdown `#`, reST/setext underlines, or the
  loader's own headings: PDF pages, Python defs), then inside a section paragraphs (a fenced code
  block stays one piece), then lines, then sentences, then fixed windows; adjacent pieces are merged
  greedily up to `size` (LangChain's RecursiveCharacterTextSplitter idea, on spans not strings).
- `semantic`: inside each section, a break wherever the embedding distance between neighbouring
  sentences is above the document's `breakpoint_percentile` (LlamaIndex SemanticSplitter /
  LangChain SemanticChunker recipe); groups over `size` are split recursively.

Every chunk satisfies `chunk.text == document.text[chunk.start:chunk.end]`.
Leaves out token-exact overlap for `recursive` (it does not overlap) and LLM-written context.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .types import Chunk, SourceDocument

STRATEGIES = ("fixed", "recursive", "semantic")
_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_UNDERLINE = re.compile(r"^([=\-*~^\"'#+])\1{2,}[ \t]*$")
_FENCE = re.compile(r"^(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
# NOTE: sections shorter than this (a heading directly followed by a subheading) are merged into
# the next section; 24 tokens is about one line, chosen by eye on the Python docs.
MIN_SECTION_TOKENS = 24


class TokenCounter:
    """Token offsets of one text, so the token count of any char span is two bisections."""

    def __init__(self, text: str, tokenizer: Any) -> None:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        verbose=False)
        offsets = enc["offset_mapping"]
        self.starts = [s for s, _ in offsets]
        self.ends = [e for _, e in offsets]

    def count(self, start: int, end: int) -> int:
        return bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)

    def windows(self, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
        """Char spans of token windows inside [start, end); the last window ends at `end`."""
        lo, hi = bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)
        if hi <= lo:
            return [(start, end)]
        step = max(1, size - overlap)
        spans = []
        for i in range(lo, hi, step):
            j = min(i + size, hi)
            spans.append((self.starts[i], min(self.ends[j - 1], end)))
            if j == hi:
                break
        return spans


def detect_headings(text: str) -> list[tuple[int, int, str]]:
    """Markdown ATX headings and reST/setext underlined titles, outside code fences.

    >>> detect_headings("Intro\\n*****\\n\\ntext\\n# Deep\\n")
    [(0, 1, 'Intro'), (18, 1, 'Deep')]
    """
    found: list[tuple[int, int, str]] = []
    underline_levels: dict[str, int] = {}
    lines = text.splitlines(keepends=True)
    offset, in_fence, prev = 0, False, None  # prev: (offset, stripped text) of the line before
    for line in lines:
        stripped = line.strip()
        if _FENCE.match(stripped):
            in_fence = not in_fence
        elif not in_fence:
            atx = _ATX.match(stripped)
            under = _UNDERLINE.match(stripped)
            if atx and line.startswith("#"):
                found.append((offset, len(atx.group(1)), atx.group(2).strip()))
            elif (under and prev is not None and prev[1] and len(stripped) >= len(prev[1]) * 0.8
                  and not _UNDERLINE.match(prev[1])):
                level = underline_levels.setdefault(stripped[0], len(underline_levels) + 1)
                found.append((prev[0], min(level, 6), prev[1]))
        prev = (offset, stripped)
        offset += len(line)
    return found


class HeadingPaths:
    """The heading path ("A > B") in force at any char offset."""

    def __init__(self, headings: list[tuple[int, int, str]]) -> None:
        self.offsets: list[int] = []
        self.paths: list[str] = []
        stack: list[tuple[int, str]] = []
        for offset, level, title in sorted(headings):
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            self.offsets.append(offset)
            self.paths.append(" > ".join(t for _, t in stack))

    def at(self, offset: int) -> str:
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.paths[i] if i >= 0 else ""


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Split [start, end) after each match of `pattern` (the separator stays with the left)."""
    pieces, last = [], start
    for match in pattern.finditer(text, start, end):
        if match.end() > last:
            pieces.append((last, match.end()))
            last = match.end()
    if last < end:
        pieces.append((last, end))
    return pieces


_BLANK = re.compile(r"\n[ \t]*\n+")
_NEWLINE = re.compile(r"\n")


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Blank-line separated blocks, a fenced code block kept whole."""
    pieces = _cut(text, start, end, _BLANK)
    merged: list[tuple[int, int]] = []
    open_fence = False
    for a, b in pieces:
        fences = sum(1 for line in text[a:b].splitlines() if _FENCE.match(line.strip()))
        if open_fence:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
        open_fence = open_fence != (fences % 2 == 1)
    return merged


class Splitter:
    def __init__(self, text: str, counter: TokenCounter, size: int) -> None:
        self.text, self.counter, self.size = text, counter, size

    def split(self, start: int, end: int, level: int = 0) -> list[tuple[int, int]]:
        if self.counter.count(start, end) <= self.size:
            return [(start, end)]
        if level == 0:
            pieces = _paragraphs(self.text, start, end)
        elif level == 1:
            pieces = _cut(self.text, start, end, _NEWLINE)
        elif level == 2:
            pieces = _cut(self.text, start, end, _SENTENCE_END)
        else:
            return self.counter.windows(start, end, self.size, 0)
        if len(pieces) <= 1:
            return self.split(start, end, level + 1)
        small: list[tuple[int, int]] = []
        for a, b in pieces:
            small.extend(self.split(a, b, level + 1))
        return self.merge(small)

    def merge(self, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for a, b in pieces:
            if out and self.counter.count(out[-1][0], b) <= self.size:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        return out


def _sections(doc: SourceDocument, counter: TokenCounter) -> list[tuple[int, int, int]]:
    """(start, end, label offset) per section. A tiny section is merged into the next one; the
    label offset then points at the next one's heading, so the chunk is named after the heading
    whose text it mostly holds ("Kitchen guide > Bread", not "Kitchen guide")."""
    offsets = sorted({0, *(h[0] for h in (doc.headings if doc.headings is not None
                                           else detect_headings(doc.text)))})
    bounds = [*offsets, len(doc.text)]
    spans = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    merged: list[tuple[int, int, int]] = []
    carry: int | None = None
    for n, (a, b) in enumerate(spans):
        start = carry if carry is not None else a
        carry = None
        if counter.count(a, b) < MIN_SECTION_TOKENS and n < len(spans) - 1:
            carry = start
            continue
        merged.append((start, b, a))
    return merged


def _semantic_spans(text: str, section: tuple[int, int], splitter: Splitter,
                    embed: Callable[[list[str]], np.ndarray], percentile: float,
                    ) -> list[tuple[int, int]]:
    sentences = [s for a, b in _paragraphs(text, *section)
                 for s in _cut(text, a, b, _SENTENCE_END)]
    sentences = [s for s in sentences if text[s[0]:s[1]].strip()]
    if len(sentences) < 3:
        return splitter.split(*section)
    vectors = embed([text[a:b] for a, b in sentences])  # (S, dim), unit rows
    distance = 1.0 - np.sum(vectors[:-1] * vectors[1:], axis=1)  # (S-1,)
    threshold = np.percentile(distance, percentile)
    groups, first = [], sentences[0][0]
    for i, d in enumerate(distance):
        if d > threshold:
            groups.append((first, sentences[i][1]))
            first = sentences[i + 1][0]
    groups.append((first, section[1]))
    return [piece for group in groups for piece in splitter.split(*group)]


def chunk_document(doc: SourceDocument, tokenizer: Any, *, strategy: str = "recursive",
                   size: int = 200, overlap: int = 32,
                   embed: Callable[[list[str]], np.ndarray] | None = None,
                   breakpoint_percentile: float = 90.0) -> list[Chunk]:
    """Chunks of `doc`; `embed` (texts -> unit vectors) is needed by the semantic strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown chunking strategy {strategy!r}; choose from {STRATEGIES}")
    text = doc.text
    counter = TokenCounter(text, tokenizer)
    paths = HeadingPaths(list(doc.headings) if doc.headings is not None
                         else detect_headings(text))
    splitter = Splitter(text, counter, size)
    if strategy == "fixed":
        spans = counter.windows(0, len(text), size, overlap)
        labels = [0] * len(spans)
    elif strategy == "recursive":
        pieces = [(p, label) for a, b, label in _sections(doc, counter)
                  for p in splitter.split(a, b)]
        spans, labels = [p for p, _ in pieces], [label for _, label in pieces]
    else:
        if embed is None:
            raise ValueError("the semantic strategy needs `embed` (a sentence encoder)")
        pieces = [(p, label) for a, b, label in _sections(doc, counter)
                  for p in _semantic_spans(text, (a, b), splitter, embed, breakpoint_percentile)]
        spans, labels = [p for p, _ in pieces], [label for _, label in pieces]
    chunks = []
    for (a, b), label in zip(spans, labels, strict=True):
        a, b = _trim(text, a, b)
        if b > a:
            chunks.append(Chunk(source=doc.source, title=doc.title, kind=doc.kind, start=a, end=b,
                                heading=paths.at(max(a, label)), text=text[a:b]))
    return chunks
