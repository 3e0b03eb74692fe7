"""The on-disk activation store: sharded .npy files read back as memory maps, plus a manifest.

Layout of a store directory (written by `capture.py`):
    manifest.json        model, hook, site, layer, d_model, dtype, context, shards, docs done
    acts_00000.npy       (N, d_model) activations of shard 0, float16 or float32
    tokens_00000.npy     (N,) int32 token ids, aligned with the activations
    windows_00000.npy    (W, 3) int64 rows (start row in shard, length, document index)
    docs.jsonl           one line per document: {"id", "kind"}
Row r of a shard is position r - start of its window; position 0 of every window is the BOS
token, whose activation is an outlier (the attention sink), so `positions(exclude_bos=True)`
leaves it out of training and evaluation. Leaves out compression and remote storage.
Exercised by `uv run sae-probe capture` and every command that reads `--acts DIR`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from llm_shared import UserError

FORMAT = 1
MANIFEST = "manifest.json"
# Last 10% of windows: held out from training, used by evaluate (a fixed split, not a flag, so
# that every SAE trained on a store is measured on the same rows).
EVAL_FRAC = 0.1


def shard_names(index: int) -> dict[str, str]:
    return {kind: f"{kind}_{index:05d}.npy" for kind in ("acts", "tokens", "windows")}


@dataclass
class Window:
    shard: int
    start: int  # first row in the shard
    length: int
    doc: int


class ActivationStore:
    """Read side of a capture: manifest checks, memory-mapped shards, global row indexing."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            raise UserError(f"{self.path} is not an activation store (no {MANIFEST}); "
                            "create one with `sae-probe capture --out DIR`")
        self.manifest: dict[str, Any] = json.loads(manifest.read_text())
        if self.manifest.get("format") != FORMAT:
            raise UserError(f"{self.path} has store format {self.manifest.get('format')}, "
                            f"this version reads {FORMAT}; capture it again")
        if not self.manifest["shards"]:
            raise UserError(f"{self.path} holds no finished shard yet; run capture (--resume)")

    # --- identity -------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.manifest["model"]

    @property
    def hook(self) -> str:
        return self.manifest["hook"]

    @property
    def d_model(self) -> int:
        return int(self.manifest["d_model"])

    def check_matches(self, *, model: str | None = None, hook: str | None = None,
                      d_model: int | None = None, what: str = "the SAE") -> None:
        """UserError when these activations come from another model, hook point or width."""
        if model is not None and model != self.model:
            raise UserError(f"activations in {self.path} come from model '{self.model}' but "
                            f"{what} is for '{model}'; capture with --model {model}")
        if hook is not None and hook != self.hook:
            raise UserError(f"activations in {self.path} are from hook '{self.hook}' but "
                            f"{what} is for '{hook}'; capture with --hook {hook}")
        if d_model is not None and d_model != self.d_model:
            raise UserError(f"activations in {self.path} have width {self.d_model} but {what} "
                            f"expects {d_model}; use activations of the same model and hook")

    # --- data -----------------------------------------------------------------------------
    @cached_property
    def shard_sizes(self) -> np.ndarray:
        return np.array([s["n_tokens"] for s in self.manifest["shards"]], dtype=np.int64)

    @cached_property
    def shard_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.shard_sizes)[:-1]]).astype(np.int64)

    @property
    def n_tokens(self) -> int:
        return int(self.shard_sizes.sum())

    def _load(self, index: int, kind: str) -> np.ndarray:
        path = self.path / shard_names(index)[kind]
        if not path.is_file():
            raise UserError(f"{path} is missing; the store is incomplete, capture it again")
        return np.load(path, mmap_mode="r")

    @cached_property
    def acts(self) -> list[np.ndarray]:
        return [self._load(i, "acts") for i in range(len(self.shard_sizes))]

    @cached_property
    def tokens(self) -> np.ndarray:
        """(N,) int32 token ids of every row, all shards concatenated (small: 4 bytes a row)."""
        return np.concatenate([self._load(i, "tokens") for i in range(len(self.shard_sizes))])

    @cached_property
    def windows(self) -> list[Window]:
        out = []
        for i in range(len(self.shard_sizes)):
            for start, length, doc in self._load(i, "windows"):
                out.append(Window(i, int(start), int(length), int(doc)))
        return out

    @cached_property
    def docs(self) -> list[dict[str, str]]:
        lines = (self.path / "docs.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def positions(self, *, exclude_bos: bool = True) -> np.ndarray:
        """Global row indices usable for training/eval: (M,) int64, BOS rows left out."""
        rows = np.arange(self.n_tokens, dtype=np.int64)
        if not exclude_bos:
            return rows
        bos = np.array([self.shard_starts[w.shard] + w.start for w in self.windows], np.int64)
        return np.setdiff1d(rows, bos, assume_unique=True)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Activations of global rows (any order) as float32 (len(rows), d_model)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.d_model), dtype=np.float32)
        shard_of = np.searchsorted(self.shard_starts, rows, side="right") - 1
        for shard in np.unique(shard_of):
            mask = shard_of == shard
            local = rows[mask] - self.shard_starts[shard]
            order = np.argsort(local)  # sorted reads are kinder to the page cache
            block = self.acts[shard][local[order]]
            out[np.flatnonzero(mask)[order]] = block
        return out

    def window_tokens(self, window: Window) -> np.ndarray:
        start = self.shard_starts[window.shard] + window.start
        return self.tokens[start:start + window.length]

    def row_window(self) -> np.ndarray:
        """(N,) index into `windows` of each global row; for contexts in the dashboard."""
        out = np.empty(self.n_tokens, dtype=np.int64)
        for i, w in enumerate(self.windows):
            start = self.shard_starts[w.shard] + w.start
            out[start:start + w.length] = i
        return out

    def split(self) -> tuple[np.ndarray, np.ndarray, list[Window]]:
        """(train rows, held-out rows, held-out windows): the last EVAL_FRAC of windows is held
        out from training, so evaluate measures generalisation to unseen text."""
        n_eval = max(1, int(len(self.windows) * EVAL_FRAC)) if len(self.windows) > 1 else 0
        cut = len(self.windows) - n_eval
        rows = self.positions()
        if n_eval == 0:
            return rows, rows, self.windows
        w = self.windows[cut]
        boundary = self.shard_starts[w.shard] + w.start
        return rows[rows < boundary], rows[rows >= boundary], self.windows[cut:]
