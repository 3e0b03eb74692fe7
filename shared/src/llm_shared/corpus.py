"""Real text that every Python installation carries, as a deterministic stream of documents.

Three kinds, each document with a stable id, a title and its text:
- `topics`: the language reference topics of `pydoc_data.topics` (prose with code; ~80 documents).
- `docstrings`: module, class and function docstrings of the stdlib, read with `ast` (no imports,
  so no side effects); one document per docstring of at least `min_chars` characters.
- `sources`: the stdlib `.py` files themselves (test suites, `site-packages` and `idlelib` left
  out).

Order is sorted by id, so two runs on the same Python give the same stream. Different Python
versions ship different text: results are reproducible per interpreter, not across them.

>>> next(iter_corpus(["topics"])).id
'topics/assert'
"""

from __future__ import annotations

import ast
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

KINDS = ("topics", "docstrings", "sources")
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "idlelib", "__pycache__",
              "lib2to3", "turtledemo", "ensurepip", "venv"}


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    kind: str


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files() -> list[Path]:
    """The stdlib's .py files, sorted, without test suites and vendored tools."""
    root = stdlib_dir()
    files = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts
        if any(p in _SKIP_DIRS or p.startswith("test_") for p in parts):
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _module_name(path: Path) -> str:
    rel = path.relative_to(stdlib_dir()).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_topics() -> Iterator[Document]:
    from pydoc_data.topics import topics

    for key in sorted(topics):
        text = topics[key].strip()
        if text:
            yield Document(id=f"topics/{key}", title=key, text=text, kind="topics")


def iter_sources() -> Iterator[Document]:
    root = stdlib_dir()
    for path in stdlib_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            rel = path.relative_to(root).as_posix()
            yield Document(id=f"sources/{rel}", title=_module_name(path), text=text,
                           kind="sources")


def iter_docstrings(min_chars: int = 40) -> Iterator[Document]:
    for path in stdlib_files():
        module = _module_name(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        found: list[tuple[str, str]] = []
        doc = ast.get_docstring(tree)
        if doc:
            found.append((module, doc))

        def walk(node: ast.AST, prefix: str, found: list[tuple[str, str]] = found) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qualname = f"{prefix}.{child.name}"
                    child_doc = ast.get_docstring(child)
                    if child_doc:
                        found.append((qualname, child_doc))
                    if isinstance(child, ast.ClassDef):
                        walk(child, qualname)

        walk(tree, module)
        for qualname, text in found:
            if len(text) >= min_chars:
                yield Document(id=f"docstrings/{qualname}", title=qualname, text=text,
                               kind="docstrings")


def iter_corpus(kinds: Sequence[str] = KINDS, *, limit: int | None = None) -> Iterator[Document]:
    """Documents of the chosen kinds, kind by kind in the order given; at most `limit` in all."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UserError(f"unknown corpus kind(s) {unknown}; choose from {list(KINDS)}")
    sources = {"topics": iter_topics, "docstrings": iter_docstrings, "sources": iter_sources}
    count = 0
    for kind in kinds:
        for document in sources[kind]():
            if limit is not None and count >= limit:
                return
            yield document
            count += 1


def corpus_text(kinds: Sequence[str] = ("topics",), *, max_chars: int | None = None,
                separator: str = "\n\n") -> str:
    """The chosen kinds joined into one string, cut at `max_chars` (for tokenizer training etc.)."""
    pieces: list[str] = []
    total = 0
    for document in iter_corpus(kinds):
        pieces.append(document.text)
        total += len(document.text) + len(separator)
        if max_chars is not None and total >= max_chars:
            break
    text = separator.join(pieces)
    return text if max_chars is None else text[:max_chars]

