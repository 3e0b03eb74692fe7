"""The straightforward BPE trainer: recount every pair of the corpus before each merge.

This is minbpe's loop (`get_stats` then `merge` over everything), kept as the reference that the
incremental trainer (trainer.py) must reproduce merge for merge, and as the slow peer of the
training benchmark. It works on the same unique pre-tokens with counts and breaks ties the same
way: highest count, then smallest `(a, b)` in token-id order; a merge whose bytes already are a
token reuses that id.

    >>> recount_train_bpe({b"aaab": 1}, 258)[0]  # aa (twice), then (a, b) wins a tie with (aa, a)
    [(97, 97, 256), (97, 98, 257)]

Leaves out everything that would make it fast. Exercised by `tests/test_trainer.py` and
`bpe-tokenizer bench`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import pairwise

from llm_shared import UserError

from .trainer import Merge, check_vocab_size, merge_word


def recount_train_bpe(counts: Mapping[bytes, int], vocab_size: int, *, min_frequency: int = 1
                      ) -> tuple[list[Merge], dict[int, bytes]]:
    check_vocab_size(vocab_size)
    if not counts:
        raise UserError("the training corpus is empty (no pre-tokens); pass non-empty inputs")
    words = [list(chunk) for chunk in counts]
    word_counts = list(counts.values())
    vocab = {i: bytes([i]) for i in range(256)}
    ids_of = {token: i for i, token in vocab.items()}
    merges: list[Merge] = []
    while len(vocab) < vocab_size:
        stats: Counter[tuple[int, int]] = Counter()
        for word, count in zip(words, word_counts, strict=True):
            for pair in pairwise(word):
                stats[pair] += count
        if not stats:
            break
        (a, b), count = min(stats.items(), key=lambda item: (-item[1], item[0]))
        if count < min_frequency:
            break
        token = vocab[a] + vocab[b]
        new = ids_of.setdefault(token, len(vocab))
        vocab[new] = token
        words = [merge_word(word, a, b, new) for word in words]
        merges.append((a, b, new))
    return merges, vocab
