"""Seeded algorithmic tasks: copy, reverse, sort and multi-digit addition.

Tokens are the digits 0-9 (and `+` for addition) plus PAD / BOS / EOS. An input is held out when
crc32 of its text is 0 mod 10: training never sees those inputs and the exact-match figure is
measured only on them, so "its own held-out split" needs no stored list. Batches are a pure
function of (seed, step), which is what lets `--resume` continue without saving a data RNG.
Addition optionally writes numbers least significant digit first (the carry then flows in the
order the decoder writes), and the user never sees that: `123 + 456` -> `579` either way.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

import torch
from llm_shared import UserError

PAD, BOS, EOS = 0, 1, 2
SYMBOLS = [str(d) for d in range(10)] + ["+"]
VOCAB = ["<pad>", "<bos>", "<eos>"] + SYMBOLS
TOKEN_ID = {token: i for i, token in enumerate(VOCAB)}
_ADD_LINE = re.compile(r"^\s*(\d+)\s*\+\s*(\d+)\s*$")


@dataclass(frozen=True)
class Task:
    name: str  # copy | reverse | sort | add
    length: int  # longest trained sequence (add: most digits per operand)
    reverse_digits: bool = True

    def sample(self, rng: random.Random, length: int | None = None) -> list[str]:
        """One random input as tokens (`length` fixes the size: tokens, or digits per operand)."""
        if self.name == "add":
            a, b = (_number(rng, length or rng.randint(1, self.length)) for _ in range(2))
            return self._add_source(a, b)
        n = length or rng.randint(1, self.length)
        return [str(rng.randint(0, 9)) for _ in range(n)]

    def _add_source(self, a: int, b: int) -> list[str]:
        da, db = list(str(a)), list(str(b))
        if self.reverse_digits:
            da, db = da[::-1], db[::-1]
        return da + ["+"] + db

    def solve(self, source: list[str]) -> list[str]:
        """The right answer, in the model's token order."""
        if self.name == "copy":
            return list(source)
        if self.name == "reverse":
            return source[::-1]
        if self.name == "sort":
            return sorted(source)
        a, b = self.operands(source)
        digits = list(str(a + b))
        return digits[::-1] if self.reverse_digits else digits

    def operands(self, source: list[str]) -> tuple[int, int]:
        split = source.index("+")
        da, db = source[:split], source[split + 1:]
        if self.reverse_digits:
            da, db = da[::-1], db[::-1]
        return int("".join(da)), int("".join(db))

    @staticmethod
    def held_out(source: list[str]) -> bool:
        return zlib.crc32(" ".join(source).encode()) % 10 == 0

    def examples(self, seed: int, count: int, *, held_out: bool,
                 length: int | None = None) -> list[tuple[list[str], list[str]]]:
        """`count` (source, target) pairs from one side of the split; `length` fixes the size."""
        rng = random.Random(seed)
        pairs = []
        while len(pairs) < count:
            source = self.sample(rng, length)
            if self.held_out(source) == held_out:
                pairs.append((source, self.solve(source)))
        return pairs

    def batch(self, seed: int, step: int, size: int) -> tuple[torch.Tensor, ...]:
        """The training batch of `step`: a pure function of (seed, step)."""
        return make_batch(self.examples(seed * 1_000_003 + step, size, held_out=False))

    def parse(self, line: str, max_tokens: int) -> list[str]:
        """A user's input line -> source tokens; UserError when it is not this task's input."""
        if self.name == "add":
            match = _ADD_LINE.match(line)
            if not match:
                raise UserError(f"{line.strip()!r} is not an addition like `123 + 456`; "
                                "this model was trained on add")
            source = self._add_source(int(match.group(1)), int(match.group(2)))
        else:
            source = line.split()
            bad = [t for t in source if t not in SYMBOLS[:10]]
            if bad or not source:
                raise UserError(f"{line.strip()!r} has tokens outside the digits 0-9 ({bad}); "
                                f"write the {self.name} input as digits separated by spaces")
        if len(source) + 1 > max_tokens:
            raise UserError(f"{line.strip()!r} has {len(source)} tokens, more than this model's "
                            f"maximum of {max_tokens - 1}; shorten it")
        return source

    def render(self, tokens: list[str]) -> str:
        """Model output tokens -> the answer as the user writes it (`5 7 9` or `579`)."""
        if self.name == "add":
            digits = tokens[::-1] if self.reverse_digits else tokens
            return "".join(digits)
        return " ".join(tokens)


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)


def encode(tokens: list[str]) -> list[int]:
    return [TOKEN_ID[t] for t in tokens]


def decode(ids: list[int]) -> list[str]:
    """Ids up to the first EOS -> tokens (special tokens dropped)."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i > EOS:
            out.append(VOCAB[i])
    return out


def pad_rows(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows])  # (B, width)


def make_batch(pairs: list[tuple[list[str], list[str]]]) -> tuple[torch.Tensor, ...]:
    """(src (B, S), decoder input BOS+target (B, T), decoder labels target+EOS (B, T))."""
    src = pad_rows([encode(s) for s, _ in pairs])
    tgt_in = pad_rows([[BOS] + encode(t) for _, t in pairs])
    tgt_out = pad_rows([encode(t) + [EOS] for _, t in pairs])
    return src, tgt_in, tgt_out
