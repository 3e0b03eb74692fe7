"""LSH banding over all documents at once, union-find clusters, exact-Jaccard verification.

`candidate_pairs(keys)` sorts each band's (N,) uint64 keys (stable argsort) and links every member
of a bucket to the bucket's first (smallest) document: a star per bucket, so a bucket of k
documents gives k - 1 pairs instead of k(k-1)/2. `UnionFind` merges the pairs into clusters whose
root is always the smallest index, which makes "keep the first occurrence" the tie rule.

With verification, a pair is merged only when the exact Jaccard of the two shingle sets reaches
the threshold (false positives of LSH are gone; a star pair that fails is not retried with other
bucket members, as in text-dedup). Leaves out disk-backed buckets: keys of all documents stay in
memory, b * 8 bytes per document. Exercised by `minhash-dedup run corpus --output out/`.
"""

from __future__ import annotations

import numpy as np


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """(N, b) band keys -> (E, 2) int64 pairs (first, member) with first < member, unique."""
    found = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")  # (N,) equal keys keep index order
        sorted_keys = keys[order, band]
        starts = np.ones(len(order), bool)
        starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
        first_pos = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))  # (N,)
        members = np.flatnonzero(~starts)
        found.append(np.stack([order[first_pos[members]], order[members]], axis=1))
    if not found:
        return np.empty((0, 2), np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + mask: numpy 2.4's hash-based np.unique is slower here)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if len(x) else x


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of the sets of two hash arrays (any order, repeats allowed).

    jaccard([1,2,3],[2,3,4]) -> 0.5
    """
    a, b = _unique(np.asarray(a)), _unique(np.asarray(b))
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def verify_pairs(pairs: np.ndarray, shingle_sets: list[np.ndarray],
                 threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep the pairs whose exact Jaccard >= threshold; also return each kept pair's Jaccard."""
    scores = np.array([jaccard(shingle_sets[i], shingle_sets[j]) for i, j in pairs], np.float64)
    keep = scores >= threshold
    return pairs[keep], scores[keep]


class UnionFind:
    """Disjoint sets over 0..n-1 whose root is always the smallest member (path halving)."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            lo, hi = (rx, ry) if rx < ry else (ry, rx)
            self.parent[hi] = lo

    def roots(self) -> np.ndarray:
        """(n,) root of every element, with full path compression."""
        return np.array([self.find(i) for i in range(len(self.parent))], np.int64)


def clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """(n,) representative (smallest index) of each element's cluster after merging `pairs`."""
    uf = UnionFind(n)
    for i, j in pairs.tolist():
        uf.union(i, j)
    return uf.roots()
