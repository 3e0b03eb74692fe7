"""A question set with known gold passages, built from the Python language reference.

Each section of the `pydoc_data.topics` documents (split at its reST headings) with enough body
text becomes one question, written from its title by a fixed template ("How does the "with"
statement work in Python?"); its gold passage is the section's character span. Gold is a span, not
a chunk id, so the same question set scores any chunking strategy or store. Because questions are
written from headings, they share words with their gold section: BM25 is favoured, and the set
measures finding the right section, not paraphrase understanding (README, limits).
Leaves out LLM-written questions (ragas-style testset generation): SmolLM2-135M writes poor ones.
Exercised by `rag-engine questions --out q.json` and `rag-engine eval`.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from llm_shared import UserError, atomic_write

from .chunking import detect_headings
from .loaders import builtin_documents
from .types import Chunk

MIN_SECTION_CHARS = 300  # shorter sections are mostly a heading and a cross-reference
TEMPLATES = ("What does the Python documentation say about {t}?",
             "Explain {t} in Python.",
             "How does {t} work?",
             "Where is {t} described, and what are the rules?")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    source: str
    start: int
    end: int
    heading: str


def _clean_title(title: str) -> str:
    title = re.sub(r'"([^"]+)"', r"\1", title)
    if title[:1].isupper() and not title[:2].isupper():
        return title[0].lower() + title[1:]
    return title


def build_questions(kinds: tuple[str, ...] = ("topics",)) -> list[Question]:
    """Every eligible section of the built-in docs, in document order."""
    out: list[Question] = []
    for doc in builtin_documents(kinds):
        headings = detect_headings(doc.text)
        bounds = [h[0] for h in headings] + [len(doc.text)]
        for n, (offset, _level, title) in enumerate(headings):
            start, end = offset, bounds[n + 1]
            if end - start < MIN_SECTION_CHARS or len(title) < 4:
                continue
            template = TEMPLATES[len(out) % len(TEMPLATES)]
            out.append(Question(id=f"{doc.source}#{start}", question=template.format(
                t=_clean_title(title)), source=doc.source, start=start, end=end, heading=title))
    return out


def sample_questions(n: int, seed: int = 0, sources: set[str] | None = None,
                     kinds: tuple[str, ...] = ("topics",)) -> list[Question]:
    """`n` questions (seeded sample) whose gold document is in `sources` (e.g. the store's)."""
    pool = [q for q in build_questions(kinds) if sources is None or q.source in sources]
    if not pool:
        raise UserError("no question of the built-in set has its gold passage in this store; "
                        "ingest the built-in Python docs (`rag-engine ingest --store DIR`) or pass "
                        "--question-file")
    rng = random.Random(seed)
    return sorted(rng.sample(pool, min(n, len(pool))), key=lambda q: q.id)


def save_questions(path: str | Path, questions: list[Question]) -> None:
    with atomic_write(path) as handle:
        json.dump([asdict(q) for q in questions], handle, indent=1, ensure_ascii=False)


def load_questions(path: str | Path) -> list[Question]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [Question(**item) for item in data]
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"cannot read question file {path} ({exc}); write one with "
                        "`rag-engine questions --out FILE`") from exc


def is_relevant(chunk: Chunk, question: Question) -> bool:
    """A chunk is relevant when at least half of it lies in the gold span or it covers at least
    half of the gold span (so both small chunks inside a long section and one big chunk count)."""
    if chunk.source != question.source:
        return False
    overlap = min(chunk.end, question.end) - max(chunk.start, question.start)
    if overlap <= 0:
        return False
    return (overlap * 2 >= (chunk.end - chunk.start)
            or overlap * 2 >= (question.end - question.start))
