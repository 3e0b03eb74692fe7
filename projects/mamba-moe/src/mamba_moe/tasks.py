"""Seeded synthetic recall tasks as {"input": [...], "target": [...]} examples.

Ids: 0 = blank, 1 = separator, 2…V+1 = symbols.
- selective-copy (Gu & Dao 2023): L context tokens holding K symbols (uniform, repeats allowed) at
  random positions in order, blanks elsewhere, then the separator; target = those K symbols.
  Needs content-aware selection: a time-invariant filter cannot know where the symbols are.
- mqar (multi-query associative recall, Arora et al. 2023): L/2 key-value pairs (distinct keys),
  the separator, then K query keys drawn from them; target = their values in query order.
No file I/O here beyond JSON lines; `batch()` returns tensors for training.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

TASKS = ("selective-copy", "mqar")
BLANK, SEP, FIRST_SYMBOL = 0, 1, 2


@dataclass(frozen=True)
class TaskSpec:
    task: str = "selective-copy"
    seq_len: int = 64  # L: context tokens before the separator
    num_tokens: int = 4  # K: symbols to recall
    vocab: int = 8  # V: distinct symbols

    def check(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} (got {self.task!r})")
        if self.vocab < 2 or self.num_tokens < 1:
            raise ValueError("need vocab >= 2 and num_tokens >= 1")
        if self.task == "selective-copy" and self.num_tokens > self.seq_len:
            raise ValueError(f"selective-copy needs num_tokens <= seq_len "
                             f"({self.num_tokens} > {self.seq_len})")
        if self.task == "mqar" and (self.seq_len % 2 or self.seq_len // 2 > self.vocab):
            raise ValueError(f"mqar needs an even seq_len with seq_len/2 <= vocab distinct keys "
                             f"(got seq_len {self.seq_len}, vocab {self.vocab})")

    @property
    def vocab_size(self) -> int:
        return self.vocab + 2

    @property
    def total_len(self) -> int:
        return self.seq_len + 1 + self.num_tokens


def batch(spec: TaskSpec, size: int, generator: torch.Generator
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (size, L+1), targets (size, K)) drawn from `generator`."""
    L, K, V = spec.seq_len, spec.num_tokens, spec.vocab
    if spec.task == "selective-copy":
        symbols = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + V, (size, K), generator=generator)
        # K distinct positions per row, in increasing order
        where = torch.rand(size, L, generator=generator).argsort(-1)[:, :K].sort(-1).values
        context = torch.full((size, L), BLANK).scatter(1, where, symbols)
        targets = symbols
    else:
        P = L // 2
        keys = torch.rand(size, V, generator=generator).argsort(-1)[:, :P] + FIRST_SYMBOL
        values = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + V, (size, P), generator=generator)
        context = torch.stack([keys, values], dim=-1).reshape(size, L)  # k1 v1 k2 v2 …
        pick = torch.randint(0, P, (size, K), generator=generator)
        targets = values.gather(1, pick)
        context = torch.cat([context, keys.gather(1, pick)], dim=1)
    inputs = torch.cat([context, torch.full((size, 1), SEP)], dim=1)
    if spec.task == "mqar":  # queries come after the separator: pairs, SEP, q1 … qK
        inputs = torch.cat([inputs[:, :L], inputs[:, -1:], inputs[:, L:-1]], dim=1)
    return inputs, targets


def examples(spec: TaskSpec, n: int, seed: int) -> Iterator[dict]:
    gen = torch.Generator().manual_seed(seed)
    inputs, targets = batch(spec, n, gen)
    for x, y in zip(inputs.tolist(), targets.tolist(), strict=False):
        yield {"input": x, "target": y}


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not isinstance(row.get("input"), list) or \
                    not row["input"] or not all(isinstance(t, int) for t in row["input"]):
                raise ValueError(f"{path}:{number} needs an \"input\" list of token ids")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no examples")
    return rows
