"""Retrieval metrics with binary relevance: recall@k, reciprocal rank, nDCG@k.

Worked example: relevance of the ranked hits [0, 1, 0, 1], 2 relevant chunks in the store:
recall@1 = 0, recall@2 = 1 (one gold passage, found at rank 2), RR = 1/2,
nDCG@10 = (1/log2(3) + 1/log2(5)) / (1/log2(2) + 1/log2(3)) = 0.6509.
Leaves out graded relevance: gold passages are either hit or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at_k(found_rank: int | None, k: int) -> float:
    """1.0 when the gold passage was found at a rank <= k (ranks from 1), else 0.0."""
    return 1.0 if found_rank is not None and found_rank <= k else 0.0


def reciprocal_rank(relevance: Sequence[bool]) -> float:
    for rank, rel in enumerate(relevance, 1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevance: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """nDCG with gains 1/log2(rank + 1); the ideal ranks min(k, n_relevant) relevant hits first."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(relevance[:k], 1) if rel)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, n_relevant) + 1))
    return dcg / ideal if ideal > 0 else 0.0


def first_relevant(relevance: Sequence[bool]) -> int | None:
    return next((rank for rank, rel in enumerate(relevance, 1) if rel), None)
