"""Streaming readers: JSONL, Parquet, plain-text files and folders, and the built-in corpus.

`iter_inputs(["a.jsonl", "b.parquet", "docs/", "corpus:sources,docstrings"], ...)` yields `Doc`s
one at a time (Parquet in record batches), so input size is bounded by disk, not memory. The same
inputs always give the same stream, which lets the pipeline read twice instead of holding texts.

- A JSONL line that is not a JSON object, or whose text field is not a string, becomes a
  `Malformed` item: counted, reported and written to removed.jsonl, never silently dropped.
- Problems the user must fix stop the run with a one-line `UserError`: a missing file, an empty
  file, a line that is not UTF-8, a record without the text field.
Leaves out compressed inputs and remote URLs (pipe them through `zcat` / download first).
Exercised by `minhash-dedup run data.jsonl --output out/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from llm_shared import KINDS, UserError, iter_corpus

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")
CORPUS_PREFIX = "corpus"


@dataclass(slots=True)
class Doc:
    id: str
    text: str
    record: dict[str, Any]  # every original field, written back (redacted) for kept documents


@dataclass(slots=True)
class Malformed:
    id: str  # FILE:LINE
    reason: str
    raw: str


def _corpus_kinds(spec: str) -> list[str] | None:
    """'corpus' -> all kinds, 'corpus:sources,docstrings' -> those; anything else -> None."""
    if spec == CORPUS_PREFIX:
        return list(KINDS)
    if spec.startswith(CORPUS_PREFIX + ":"):
        kinds = [k for k in spec.split(":", 1)[1].split(",") if k]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise UserError(f"unknown corpus kind(s) {unknown or kinds} in '{spec}'; write "
                            f"corpus:KIND[,KIND] with KIND from {list(KINDS)}")
        return kinds
    return None


@lru_cache(maxsize=2)
def _corpus_docs(kinds: tuple[str, ...]) -> tuple[Doc, ...]:
    """The built-in corpus, read once per process: parsing the stdlib takes seconds, and the
    pipeline reads its inputs twice. It is tens of MB, so holding it is cheap."""
    return tuple(Doc(d.id, d.text, {"id": d.id, "title": d.title, "kind": d.kind, "text": d.text})
                 for d in iter_corpus(kinds))


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)


def check_inputs(inputs: Sequence[str]) -> None:
    """Fail early, before any output exists, on inputs that cannot be read."""
    if not inputs:
        raise UserError("no INPUT given; pass JSONL/Parquet files, text folders or 'corpus'")
    for spec in inputs:
        if not Path(spec).exists() and _corpus_kinds(spec) is not None:
            continue
        path = Path(spec)
        if not path.exists():
            raise UserError(f"input {spec} does not exist; pass an existing file or folder, or "
                            "'corpus' for the built-in corpus")
        if path.is_dir():
            if not _text_files(path):
                raise UserError(f"folder {spec} has no text files ({', '.join(TEXT_SUFFIXES)}); "
                                "point at a folder of text files")
        elif path.stat().st_size == 0:
            raise UserError(f"input file {spec} is empty; remove it from the inputs")


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where} is not valid UTF-8 (byte {exc.start}); convert the file, "
                        "e.g. `iconv -f latin1 -t utf-8`") from exc


def _from_record(record: dict[str, Any], where: str, text_field: str,
                 id_field: str) -> Doc | Malformed:
    if text_field not in record:
        fields = ", ".join(list(record)[:8])
        raise UserError(f"{where} has no field '{text_field}' (fields: {fields}); pass "
                        "--text-field NAME")
    text = record[text_field]
    if not isinstance(text, str):
        return Malformed(where, f"field '{text_field}' is {type(text).__name__}, not a string",
                         json.dumps(record, ensure_ascii=False, default=str)[:1000])
    doc_id = record.get(id_field)
    return Doc(str(doc_id) if doc_id is not None else where, text, record)


def iter_jsonl(path: Path, text_field: str, id_field: str) -> Iterator[Doc | Malformed]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            line = _decode(raw, where).strip()
            if not line:
                continue  # blank lines separate nothing and hold no document
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Malformed(where, f"malformed JSON ({exc.msg})", line[:1000])
                continue
            if not isinstance(record, dict):
                yield Malformed(where, f"a JSON {type(record).__name__}, not an object",
                                line[:1000])
                continue
            yield _from_record(record, where, text_field, id_field)


def iter_parquet(path: Path, text_field: str, id_field: str,
                 batch_size: int = 1024) -> Iterator[Doc | Malformed]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path} is not a readable Parquet file ({exc}); check the file") from exc
    names = parquet.schema_arrow.names
    if text_field not in names:
        raise UserError(f"{path} has no column '{text_field}' (columns: {', '.join(names[:8])});"
                        " pass --text-field NAME")
    row = 0
    for batch in parquet.iter_batches(batch_size=batch_size):
        for record in batch.to_pylist():
            row += 1
            yield _from_record(record, f"{path}:{row}", text_field, id_field)


def iter_text_file(path: Path, root: Path | None = None) -> Iterator[Doc]:
    text = _decode(path.read_bytes(), str(path))
    doc_id = path.relative_to(root).as_posix() if root else str(path)
    yield Doc(doc_id, text, {"id": doc_id, "text": text})


def iter_inputs(inputs: Sequence[str], text_field: str = "text",
                id_field: str = "id") -> Iterator[Doc | Malformed]:
    """All documents of all inputs, in the order given (files in a folder sorted by path)."""
    check_inputs(inputs)
    for spec in inputs:
        path = Path(spec)
        kinds = None if path.exists() else _corpus_kinds(spec)
        if kinds is not None:
            yield from _corpus_docs(tuple(kinds))
        elif path.is_dir():
            for file in _text_files(path):
                yield from iter_text_file(file, path)
        elif path.suffix in JSONL_SUFFIXES:
            yield from iter_jsonl(path, text_field, id_field)
        elif path.suffix in PARQUET_SUFFIXES:
            yield from iter_parquet(path, text_field, id_field)
        else:
            yield from iter_text_file(path)
