"""Training inputs, streamed: text files, directories, JSONL fields or the built-in corpus.

`iter_texts(inputs)` yields one text at a time (a file, a JSONL record, a corpus document), so
`count_pretokens` never holds more than one document plus the table of unique pre-tokens: memory
grows with the vocabulary of the corpus, not with its size (measured in `bench/`).

Invalid UTF-8 is fine for training: files are decoded with `surrogateescape`, so each bad byte
becomes a lone surrogate that the regex keeps in a chunk of its own kind and that turns back into
the very same byte; BPE then learns from the raw bytes. (Encoding *text* is different: a str with
lone surrogates cannot be UTF-8 and is refused, see tokenizer.py.)

    >>> count_pretokens(["a cat, a cat"], PreTokenizer.from_pattern("gpt2"))
    Counter({b' cat': 2, b'a': 1, b',': 1, b' a': 1})

Leaves out compressed files and remote URLs. Exercised by `bpe-tokenizer train` and
`tests/test_inputs.py`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from llm_shared import UserError, iter_corpus

from .pretokenize import PreTokenizer

BUILTIN_PREFIX = "corpus:"  # "corpus:topics" or "corpus:topics,docstrings" names built-in kinds
TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".json", ".jsonl", ".html", ".csv", ".tex", ""}


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}); check the path and permissions") \
            from exc


def _iter_jsonl(path: Path, field: str) -> Iterator[str]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number} is not valid JSON ({exc.msg}); fix the line or pass "
                            "a plain text file") from exc
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            raise UserError(f"{path}:{number} has no string field {field!r}; pass --jsonl-field "
                            "with the name of the text field")
        yield value


def _iter_path(path: Path, jsonl_field: str) -> Iterator[str]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise UserError(f"directory {path} has no text files ({sorted(TEXT_SUFFIXES)[1:]}); "
                            "pass files or a folder that holds some")
        for file in files:
            yield from _iter_path(file, jsonl_field)
    elif path.suffix == ".jsonl":
        yield from _iter_jsonl(path, jsonl_field)
    elif path.exists():
        yield _read_text(path)
    else:
        raise UserError(f"input {path} does not exist; pass text files, folders, JSONL files or "
                        f"{BUILTIN_PREFIX}KINDS")


def iter_texts(inputs: Sequence[str] = (), *, jsonl_field: str = "text") -> Iterator[str]:
    """Texts of the inputs in order; no inputs means the built-in Python docs (corpus:topics)."""
    for item in inputs or [f"{BUILTIN_PREFIX}topics"]:
        if item.startswith(BUILTIN_PREFIX):
            kinds = [k for k in item[len(BUILTIN_PREFIX):].split(",") if k]
            for document in iter_corpus(kinds or ["topics"]):
                yield document.text
        else:
            yield from _iter_path(Path(item), jsonl_field)


def count_pretokens(texts: Iterable[str], pretokenizer: PreTokenizer) -> Counter[bytes]:
    """Unique pre-tokens (as bytes) with their counts, one text at a time.

    Counting strings first and encoding each unique one once is ~2x faster than encoding every
    chunk; `surrogateescape` restores undecodable input bytes exactly.
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pretokenizer.split(text))
    return Counter({_chunk_bytes(chunk): n for chunk, n in counts.items()})


def _chunk_bytes(chunk: str) -> bytes:
    try:
        return chunk.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A surrogate that did not come from a bad input byte (e.g. "\ud800" in JSON): keep its
        # 3-byte form so training still sees every character.
        return chunk.encode("utf-8", "surrogatepass")
