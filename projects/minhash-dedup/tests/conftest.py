"""Tiny fixtures: JSONL with planted duplicates, malformed lines, PII and a toxic document."""

import json
import os
import random

import pytest

# Ray reads this at import: under `uv run` it would otherwise rebuild the package for every worker
# from a copy of the working directory, which fails outside the uv workspace.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

WORDS = ["data", "pipeline", "model", "token", "corpus", "filter", "quality", "signal", "train",
         "batch", "window", "shard", "vector", "index", "query", "cluster", "stream", "record",
         "field", "value"]


def prose(seed: int, sentences: int = 8) -> str:
    """English-looking text that passes the Gopher and C4 rules (stop words, punctuation)."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        body = " ".join(rng.choice(WORDS) for _ in range(9))
        out.append(f"The {body} of the {rng.choice(WORDS)} and that {rng.choice(WORDS)}.")
    return "\n".join(out)


def near_copy(text: str, seed: int, edits: int = 1) -> str:
    rng = random.Random(seed)
    words = text.split(" ")
    for _ in range(edits):
        words[rng.randrange(len(words))] = "changed"
    return " ".join(words)


@pytest.fixture
def records():
    base = [prose(i) for i in range(12)]
    rows = [{"id": f"doc{i}", "text": t} for i, t in enumerate(base)]
    rows.append({"id": "exact-of-0", "text": base[0].upper()})  # same after normalisation
    rows.append({"id": "near-of-1", "text": near_copy(base[1], 0)})
    rows.append({"id": "near-of-1b", "text": near_copy(base[1], 1)})
    rows.append({"id": "short", "text": "Too short to keep."})
    rows.append({"id": "pii", "text": prose(50).replace("The", "Mail ann@example.org, the", 1)
                 + "\nCall +1 (555) 123-4567 or pay with 4111 1111 1111 1111 now please."})
    rows.append({"id": "toxic", "text": prose(99, 4) + "\nYou idiot, you stupid moron, shit."})
    return rows


@pytest.fixture
def jsonl(tmp_path, records):
    path = tmp_path / "data.jsonl"
    lines = [json.dumps(r) for r in records]
    lines.insert(3, "{not json")  # malformed: counted and reported
    lines.insert(5, "[1, 2, 3]")  # valid JSON, but not an object
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
