"""Turn paths (files or folders) and the built-in Python docs into `SourceDocument`s.

Formats: Markdown/reST/plain text (read as is), HTML (BeautifulSoup: visible text, headings kept as
Markdown `#` lines so the heading path survives), PDF (pypdf text per page, one heading per page),
Python source (read as is; classes and functions become headings via `ast`). Anything else is
listed, skipped and counted in `Discovery.unsupported`. Spans of HTML and PDF chunks refer to the
extracted text, not to the file's bytes. Leaves out OCR, tables and DOCX.
Exercised by `rag-engine ingest PATH --store DIR`.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llm_shared import KINDS, UserError, iter_corpus

from .types import SourceDocument

KIND_BY_SUFFIX = {".md": "markdown", ".markdown": "markdown", ".rst": "markdown",
                  ".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
                  ".pdf": "pdf", ".py": "python"}
BUILTIN_PREFIX = "python-docs:"


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)


class OutsideRoot(UserError):
    """A path (or a file a symlink leads to) outside the root the operator allowed."""


def discover(paths: Sequence[str | Path], root: str | Path | None = None) -> Discovery:
    """Supported files under `paths` (folders walked, hidden entries skipped), sorted.

    With `root`, relative paths are taken inside it and every path and every file found must
    resolve (symlinks followed) inside it, else `OutsideRoot`: `serve --ingest-root`."""
    found = Discovery()
    base = Path(root).resolve() if root is not None else None

    def confine(path: Path) -> None:
        if base is not None and not path.resolve().is_relative_to(base):
            raise OutsideRoot(f"{path} is outside the ingest root; pass paths inside it")

    for raw in paths:
        path = base / raw if base is not None else Path(raw)
        confine(path)
        if not path.exists():
            raise UserError(f"{path} does not exist; pass existing files or folders to ingest")
        candidates = [path] if path.is_file() else sorted(
            p for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        for file in candidates:
            confine(file)
            bucket = found.files if file.suffix.lower() in KIND_BY_SUFFIX else found.unsupported
            bucket.append(file)
    found.files = sorted(set(found.files))
    return found


def _html_to_text(raw: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks: list[str] = []
    body = soup.body or soup
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "pre", "li",
                                  "td", "dt", "dd", "blockquote"]):
        # Leaf-most blocks only: a <li> holding <p>s is read through its <p>s.
        if element.find(["p", "pre", "li"]) is not None and element.name not in ("pre",):
            continue
        if element.name == "pre":
            blocks.append("```\n" + element.get_text().strip("\n") + "\n```")
        elif element.name[0] == "h" and element.name[1:].isdigit():
            blocks.append("#" * int(element.name[1:]) + " " + element.get_text(" ", strip=True))
        else:
            text = " ".join(element.get_text(" ", strip=True).split())
            if text:
                blocks.append(text)
    return title, "\n\n".join(blocks)


def _pdf_document(path: Path) -> SourceDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, OSError, KeyError) as exc:
        raise UserError(f"cannot read PDF {path} ({type(exc).__name__}: {exc}); fix or remove the "
                        "file (nothing was ingested)") from exc
    text_parts: list[str] = []
    headings: list[tuple[int, int, str]] = []
    offset = 0
    for number, page in enumerate(pages, 1):
        headings.append((offset, 1, f"page {number}"))
        text_parts.append(page)
        offset += len(page) + 2
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else path.stem)
    return SourceDocument(source=str(path), title=str(title), text="\n\n".join(text_parts),
                          kind="pdf", headings=tuple(headings))


def python_headings(text: str) -> tuple[tuple[int, int, str], ...]:
    """(offset, level, name) of classes and functions, methods one level below their class."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    found: list[tuple[int, int, str]] = []

    def walk(node: ast.AST, level: int, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([d.lineno for d in child.decorator_list] + [child.lineno])
                name = f"{prefix}{child.name}"
                found.append((line_starts[first - 1], level, name))
                if isinstance(child, ast.ClassDef):
                    walk(child, level + 1, name + ".")

    walk(tree, 1, "")
    return tuple(sorted(found))


def load_file(path: Path) -> SourceDocument:
    kind = KIND_BY_SUFFIX.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: unsupported file type '{path.suffix}'; supported: "
                        + " ".join(sorted(KIND_BY_SUFFIX)))
    if kind == "pdf":
        return _pdf_document(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    if kind == "html":
        title, text = _html_to_text(raw)
        return SourceDocument(str(path), title or path.stem, text, kind)
    if kind == "python":
        return SourceDocument(str(path), path.stem, raw, kind, headings=python_headings(raw))
    return SourceDocument(str(path), path.stem, raw, kind)


def builtin_documents(kinds: Sequence[str] = ("topics",), limit: int | None = None,
                      only: Sequence[str] = ()) -> Iterator[SourceDocument]:
    """The Python docs every interpreter carries (`llm_shared.iter_corpus`), as documents;
    `only` keeps the ids matching one of its globs ("topics/with")."""
    count = 0
    for doc in iter_corpus([k for k in kinds if k in KINDS] or kinds):
        if only and not any(fnmatch.fnmatchcase(doc.id, pattern) for pattern in only):
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        headings = python_headings(doc.text) if doc.kind == "sources" else None
        yield SourceDocument(source=BUILTIN_PREFIX + doc.id, title=doc.title, text=doc.text,
                             kind="pydoc-" + doc.kind, headings=headings)
