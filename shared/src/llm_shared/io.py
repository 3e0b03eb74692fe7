"""Atomic file output and the one-JSON-object last line that benches and demos print.

Outputs are written to a temporary file beside the target and renamed into place, so an interrupted
run never leaves a half-written file. `emit_json` prints the machine-readable last line that the
catalog's `tour` and the bench tables read. `load_torch_state` reads a `torch.save` file that may
come from someone else: tensors and plain containers only, never code (pickle can run any).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UserError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temp file next to `path`; on success rename it onto `path`, on error delete it.

    >>> with atomic_write("out.json") as f:
    ...     f.write("{}")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file owner-only (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory under a temp name and move it onto `path` only when the block succeeds.

    An existing `path` is replaced as a whole; readers never see a mix of old and new files.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_write(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def emit_json(obj: dict[str, Any]) -> None:
    """Print `obj` as one compact JSON line on stdout: the last line of every demo and bench."""
    print(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")), flush=True)


def load_torch_state(path: str | os.PathLike[str]) -> Any:
    """`torch.load(path, weights_only=True)` on the CPU, with a one-line `UserError` for a missing,
    damaged or code-carrying file (weights_only refuses to build any object but tensors, numbers,
    strings and containers of them, so a crafted pickle cannot run code).

    >>> load_torch_state("run/checkpoint/trainer.pt")["optimizer"]
    """
    import torch  # here, so that importing llm_shared.io stays torch-free

    target = Path(path)
    if not target.is_file():
        raise UserError(f"{target} does not exist; pass the folder a run wrote")
    try:
        return torch.load(target, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{target} holds objects other than tensors (refused: loading them could "
                        "run code); use a file this tool wrote") from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise UserError(f"{target} is not a readable torch file ({type(exc).__name__}); it may "
                        "be truncated: write it again") from exc
