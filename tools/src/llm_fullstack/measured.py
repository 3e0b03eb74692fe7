"""What the catalog last measured per project: demo seconds, fast-test count and time, headline.

Kept in `measured.json` beside this file and committed, so that a fresh clone's `list` and `tour`
can say what to expect before anything runs. `tour --record` and `test --record` rewrite the
entries they measured; the headline (a project's main bench ratio against its named peer) is
written by hand from the project's README, where the command that printed it stands.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = Path(__file__).with_name("measured.json")


@dataclass
class Measured:
    demo_seconds: float | None = None
    fast_tests: int | None = None
    test_seconds: float | None = None
    headline: str = ""


def load(path: Path | None = None) -> dict[str, Measured]:
    path = path or FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Measured.__dataclass_fields__)
    return {name: Measured(**{k: v for k, v in entry.items() if k in fields})
            for name, entry in raw.items()}


def save(entries: dict[str, Measured], path: Path | None = None) -> None:
    path = path or FILE
    data = {name: asdict(entries[name]) for name in sorted(entries)}
    # Temp file + rename: an interrupted run never leaves half a catalog behind.
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".measured.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, ensure_ascii=False)
        out.write("\n")
    os.chmod(temp, 0o644)  # mkstemp makes it owner-only; the catalog is a tracked file
    os.replace(temp, path)


def update(changes: dict[str, dict], path: Path | None = None) -> None:
    """Merge measured fields into the file: {'bpe-tokenizer': {'demo_seconds': 5.1}, ...}."""
    entries = load(path)
    for name, fields in changes.items():
        entry = entries.setdefault(name, Measured())
        for key, value in fields.items():
            setattr(entry, key, value)
    save(entries, path)


def expected_seconds(names: list[str], entries: dict[str, Measured],
                     unknown: float = 60.0) -> tuple[float, int]:
    """(expected seconds for these demos, how many had no measurement and were guessed)."""
    total, guessed = 0.0, 0
    for name in names:
        seconds = entries.get(name, Measured()).demo_seconds
        if seconds is None:
            guessed += 1
            seconds = unknown
        total += seconds
    return total, guessed
