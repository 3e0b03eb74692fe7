"""Incremental byte-level BPE training: pair counts change only where a merge happened.

The textbook loop (see baseline.py) recounts every pair of the whole corpus before each merge.
Here the corpus is first reduced to its unique pre-tokens with counts ("words"), and three
structures are kept up to date instead:

- `pair_counts[(a, b)]`: how often the pair occurs, weighted by word counts;
- `where[(a, b)]`: which words contain the pair (a superset: entries go stale, never missing);
- a max-heap of `(-count, a, b)` entries to find the best pair. Entries are pushed whenever a
  count grows and never removed when one shrinks, so an entry is an upper bound; a popped entry
  whose count is out of date is pushed back with the true count ("lazy deletion").

A merge of (a, b) -> t visits only the words in `where[(a, b)]`, rewrites them and applies the
difference of their pair counts. Work per merge is proportional to the words touched, not to the
corpus.

Tie-breaking (identical in baseline.py, so both give the same merges): the pair with the highest
count wins; among equal counts the smallest `(a, b)` in token-id order. If a merge produces bytes
that already are a token (two merge paths to the same string, e.g. ("ab", "c") and ("a", "bc")),
it reuses that token's id, as Hugging Face's trainer does, so a vocabulary never holds the same
bytes twice; the merge is still recorded (with its rank) and the vocabulary does not grow.

    >>> merges, vocab = train_bpe({b"aaab": 1}, 258)  # "aa" twice, then a tie: (97, 98) < (256, 97)
    >>> merges, vocab[256], vocab[257]
    ([(97, 97, 256), (97, 98, 257)], b'aa', b'ab')

Leaves out special tokens (added by the Tokenizer after training) and parallelism.
Exercised by `bpe-tokenizer train` and `tests/test_trainer.py`.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from llm_shared import UserError, progress_bar

Pair = tuple[int, int]
Merge = tuple[int, int, int]  # (left id, right id, merged id); its index in the list is its rank


def merge_word(word: list[int], a: int, b: int, new: int) -> list[int]:
    """Replace every non-overlapping (a, b), left to right, by `new`.

    >>> merge_word([1, 2, 3, 1, 2], 1, 2, 9)
    [9, 3, 9]
    """
    out, i, n = [], 0, len(word)
    while i < n:
        if i < n - 1 and word[i] == a and word[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def check_vocab_size(vocab_size: int, num_special: int = 0) -> None:
    if vocab_size < 256 + num_special:
        raise UserError(f"--vocab-size {vocab_size} is too small: byte-level BPE needs 256 byte "
                        f"tokens + {num_special} special token(s); pass at least "
                        f"{256 + num_special}")


class IncrementalTrainer:
    """State of one training run: `best_pair()` + `apply_merge()` is one step, `train()` runs to
    the target size, `checkpoint()` / `from_checkpoint()` stop and continue to the same result."""

    def __init__(self, counts: Mapping[bytes, int]) -> None:
        if not counts:
            raise UserError("the training corpus is empty (no pre-tokens); pass non-empty inputs")
        self._start([list(chunk) for chunk in counts], list(counts.values()), [])

    @classmethod
    def from_checkpoint(cls, state: Mapping[str, Any]) -> IncrementalTrainer:
        """Continue from `checkpoint()`'s dict: the words as they are now, and the merges so far."""
        trainer = cls.__new__(cls)
        trainer._start(state["words"], state["word_counts"], [tuple(m) for m in state["merges"]])
        return trainer

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to continue: the counts and pairs are rebuilt from the words."""
        return {"words": self.words, "word_counts": self.word_counts, "merges": self.merges}

    def _start(self, words: list[list[int]], word_counts: list[int], merges: list[Merge]) -> None:
        self.words, self.word_counts = words, word_counts
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for a, b, new in merges:
            self.vocab[new] = self.vocab[a] + self.vocab[b]
        self.ids_of: dict[bytes, int] = {token: i for i, token in self.vocab.items()}
        self.merges: list[Merge] = list(merges)
        self.pair_counts: dict[Pair, int] = defaultdict(int)
        self.where: dict[Pair, set[int]] = defaultdict(set)
        for index, (word, count) in enumerate(zip(self.words, self.word_counts, strict=True)):
            for pair in pairwise(word):
                self.pair_counts[pair] += count
                self.where[pair].add(index)
        self.heap = [(-count, a, b) for (a, b), count in self.pair_counts.items()]
        heapq.heapify(self.heap)

    def best_pair(self) -> tuple[Pair, int] | None:
        """Pop heap entries until one is up to date: (pair, count) of the best pair, or None."""
        while self.heap:
            negative, a, b = heapq.heappop(self.heap)
            count = self.pair_counts.get((a, b), 0)
            if count == -negative:
                return (a, b), count
            if count > 0:  # the pair shrank since this entry was pushed: re-queue its true count
                heapq.heappush(self.heap, (-count, a, b))
        return None

    def apply_merge(self, a: int, b: int) -> Merge:
        """Merge (a, b) in every word that holds it and update counts, `where` and the heap."""
        token = self.vocab[a] + self.vocab[b]
        new = self.ids_of.get(token)
        if new is None:
            new = len(self.vocab)
            self.vocab[new] = token
            self.ids_of[token] = new
        delta: dict[Pair, int] = defaultdict(int)
        for index in self.where.pop((a, b)):
            word = self.words[index]
            merged = merge_word(word, a, b, new)
            if len(merged) == len(word):
                continue  # a stale `where` entry: an earlier merge already consumed the pair
            count = self.word_counts[index]
            for pair in pairwise(word):
                delta[pair] -= count
            for pair in pairwise(merged):
                delta[pair] += count
                self.where[pair].add(index)
            self.words[index] = merged
        for pair, change in delta.items():
            if change == 0:
                continue
            count = self.pair_counts[pair] + change
            if count > 0:
                self.pair_counts[pair] = count
                if change > 0:
                    heapq.heappush(self.heap, (-count, *pair))
            else:
                del self.pair_counts[pair]
        self.pair_counts.pop((a, b), None)
        merge = (a, b, new)
        self.merges.append(merge)
        return merge

    def train(self, vocab_size: int, *, min_frequency: int = 1, show_progress: bool = True,
              on_checkpoint: Callable[[IncrementalTrainer], None] | None = None,
              checkpoint_every: int = 1000) -> tuple[list[Merge], dict[int, bytes]]:
        """Merge until `vocab_size` tokens; call `on_checkpoint(self)` every so many merges."""
        check_vocab_size(vocab_size)
        with progress_bar() as bar:
            task = bar.add_task("merging", total=vocab_size, completed=len(self.vocab),
                                visible=show_progress)
            while len(self.vocab) < vocab_size:
                best = self.best_pair()
                if best is None or best[1] < min_frequency:
                    break  # nothing left worth merging: the vocabulary stays smaller
                self.apply_merge(*best[0])
                bar.update(task, completed=len(self.vocab))
                if on_checkpoint is not None and len(self.merges) % checkpoint_every == 0:
                    on_checkpoint(self)
        return self.merges, self.vocab


def train_bpe(counts: Mapping[bytes, int], vocab_size: int, *, min_frequency: int = 1,
              show_progress: bool = False) -> tuple[list[Merge], dict[int, bytes]]:
    """Unique pre-tokens with counts -> (merges in rank order, vocab id -> bytes)."""
    check_vocab_size(vocab_size)
    return IncrementalTrainer(counts).train(vocab_size, min_frequency=min_frequency,
                                            show_progress=show_progress)
