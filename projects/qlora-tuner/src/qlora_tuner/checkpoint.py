"""Training checkpoints: everything needed so that `--resume` continues to the same result.

A checkpoint folder `checkpoints/step-000040/` holds the trainable tensors, the AdamW state, the
scheduler step, the data cursor (epoch, batch index) and the RNG states (Python, torch), written
atomically; the two newest are kept. Restoring all of them makes the resumed run take the same
batches, the same dropout masks and the same updates as an uninterrupted one (tested bit for bit).
Loading uses `weights_only=True`, so a crafted state.pt is refused rather than run.
Leaves out sharded and distributed checkpoints. Exercised by tests/test_train.py::test_resume.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_dir, load_torch_state
from torch import nn

KEEP = 2


@dataclass
class Cursor:
    """Where training stands: optimizer steps done, epoch and next batch index in that epoch."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, cursor: Cursor, history: list[dict[str, Any]]) -> Path:
    folder = run_dir / "checkpoints" / f"step-{cursor.step:06d}"
    with atomic_dir(folder) as tmp:
        torch.save({
            "trainable": _trainable(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "cursor": asdict(cursor),
            "history": history,
            "rng_python": random.getstate(),
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }, tmp / "state.pt")
    for old in sorted((run_dir / "checkpoints").glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = sorted((run_dir / "checkpoints").glob("step-*/state.pt"))
    return found[-1].parent if found else None


def load_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> tuple[Cursor, list[dict[str, Any]]]:
    # Tensors, numbers and containers only: a state.pt someone hands over cannot run code.
    state = load_torch_state(folder / "state.pt")
    params = dict(model.named_parameters())
    mismatched = [n for n, t in state["trainable"].items()
                  if n not in params or params[n].shape != t.shape]
    if mismatched:
        raise UserError(f"checkpoint {folder} does not fit this run (tensor {mismatched[0]} is "
                        "unknown or has another shape); resume with the settings it was written "
                        "with (--method, --rank, --target-modules, --layers)")
    with torch.no_grad():
        for name, tensor in state["trainable"].items():
            params[name].copy_(tensor)
    try:
        optimizer.load_state_dict(state["optimizer"])
    except ValueError as exc:  # another set or size of parameter groups
        raise UserError(f"checkpoint {folder} holds an optimizer for other parameters ({exc}); "
                        "resume with the settings it was written with") from exc
    scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng_python"])
    torch.set_rng_state(state["rng_torch"])
    if state["rng_cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return Cursor(**state["cursor"]), state["history"]
