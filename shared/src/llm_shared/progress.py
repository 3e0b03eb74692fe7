"""Progress bars for long loops (rich), on stderr so that stdout stays machine-readable.

`track(items, "training")` wraps an iterable; `progress_bar()` gives a `rich.progress.Progress` for
loops that update by hand (tokens, bytes). Bars hide themselves when stderr is not a terminal or
`LLM_FULLSTACK_NO_PROGRESS=1`, so logs and CI output stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def progress_enabled() -> bool:
    if os.environ.get("LLM_FULLSTACK_NO_PROGRESS") == "1":
        return False
    return sys.stderr.isatty()


def progress_bar(*, transient: bool = True) -> Progress:
    """A Progress on stderr with the usual columns; disabled (a no-op) when not on a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=transient,
        disable=not progress_enabled(),
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over `items` with a progress bar; `total` defaults to len(items) when it has one."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
