"""Exact and near dedup: a pure per-batch step (parallel) and an ordered accumulator (driver).

`index_batch(texts, params)` is everything that can run anywhere: dedup keys, content hashes,
shingle hashes, signatures, band keys. It is the unit the local worker pool and Ray Data map over.
`DedupIndex.add` then consumes the batches *in input order* on one process: the first document
with a content hash wins (exact stage), and only the survivors enter LSH. `finalize()` builds
candidate pairs, optionally verifies them, and runs union-find; in each cluster the document
seen first is kept and every other one records it as `duplicate_of`.

Since both steps are deterministic and order-independent in their inputs, the local, pooled and
Ray engines produce byte-identical outputs. Leaves out cross-run (incremental) dedup.
Exercised by `minhash-dedup run corpus --output out/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import PipelineConfig
from .lsh import candidate_pairs, clusters, jaccard, verify_pairs
from .minhash import band_keys, batch_shingle_hashes, optimal_bands, signatures_flat
from .normalize import content_hash, dedup_key


@dataclass(frozen=True)
class IndexParams:
    normalize: bool
    exact: bool
    near: bool
    unit: str
    ngram: int
    num_perm: int
    seed: int
    bands: int
    rows: int
    verify: bool
    threshold: float

    @classmethod
    def from_config(cls, config: PipelineConfig) -> IndexParams:
        if config.bands:
            bands, rows = config.bands, config.num_perm // config.bands
        else:
            bands, rows = optimal_bands(config.threshold, config.num_perm,
                                        config.band_fp_weight)
        return cls(config.on("normalize"), config.on("exact"), config.on("near"), config.shingle,
                   config.ngram, config.num_perm, config.seed, bands, rows, config.verify,
                   config.threshold)


@dataclass
class BatchIndex:
    hashes: list[bytes]  # content hash per document ([] when the exact stage is off)
    keys: np.ndarray  # (B, bands) uint64 LSH band keys ((B, 0) when near is off)
    has_shingles: np.ndarray  # (B,) bool: documents without any shingle never enter LSH
    shingle_sets: list[np.ndarray] | None  # each document's shingle hashes, only to verify


def index_batch(texts: list[str], params: IndexParams) -> BatchIndex:
    keys_text = [dedup_key(t) for t in texts] if params.normalize else texts
    hashes = [content_hash(k) for k in keys_text] if params.exact else []
    if not params.near:
        return BatchIndex(hashes, np.zeros((len(texts), 0), np.uint64),
                          np.zeros(len(texts), bool), None)
    values, counts = batch_shingle_hashes(keys_text, params.unit, params.ngram)  # (S,), (B,)
    sigs = signatures_flat(values, counts, params.num_perm, params.seed)  # (B, P)
    keys = band_keys(sigs, params.bands, params.rows)  # (B, b)
    has = counts > 0
    sets = shingle_slices(values, counts) if params.verify else None
    return BatchIndex(hashes, keys, has, sets)


def shingle_slices(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Concatenated (S,) shingle hashes of D documents -> D views, as stored for --verify.
    Sorting and de-duplicating waits until a document is in a candidate pair (`jaccard`): most
    never are, and a sort per document would cost more than its signature."""
    ends = np.cumsum(counts).tolist()
    return [values[end - n:end] for end, n in zip(ends, counts.tolist(), strict=True)]


@dataclass
class Removal:
    stage: str
    reason: str
    cluster: str
    duplicate_of: str
    jaccard: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"stage": self.stage, "reason": self.reason, "cluster": self.cluster,
               "duplicate_of": self.duplicate_of}
        if self.jaccard is not None:
            out["jaccard"] = round(self.jaccard, 4)
        return out


@dataclass
class DedupResult:
    removed: dict[int, Removal]  # document position -> why it is a duplicate
    clusters: list[dict[str, Any]]  # largest near-duplicate clusters, biggest first
    stats: dict[str, Any]


@dataclass
class DedupIndex:
    params: IndexParams
    ids: list[str] = field(default_factory=list)
    _first_by_hash: dict[bytes, int] = field(default_factory=dict)
    _exact_of: dict[int, int] = field(default_factory=dict)
    _near_positions: list[np.ndarray] = field(default_factory=list)
    _near_keys: list[np.ndarray] = field(default_factory=list)
    _near_sets: list[np.ndarray] = field(default_factory=list)

    def add(self, ids: list[str], batch: BatchIndex) -> None:
        """Consume one batch; batches must arrive in input order."""
        start = len(self.ids)
        self.ids.extend(ids)
        unique = np.ones(len(ids), bool)
        for i, digest in enumerate(batch.hashes):
            first = self._first_by_hash.setdefault(digest, start + i)
            if first != start + i:
                self._exact_of[start + i] = first
                unique[i] = False
        if self.params.near:
            take = np.flatnonzero(unique & batch.has_shingles)
            self._near_positions.append(start + take)
            self._near_keys.append(batch.keys[take])
            if batch.shingle_sets is not None:
                self._near_sets.extend(batch.shingle_sets[i] for i in take)

    def finalize(self, top: int = 10) -> DedupResult:
        removed: dict[int, Removal] = {}
        for pos, first in self._exact_of.items():
            removed[pos] = Removal("exact", "exact duplicate (same normalised content hash)",
                                   f"exact-{first}", self.ids[first])
        stats: dict[str, Any] = {"exact_removed": len(self._exact_of)}
        top_clusters: list[dict[str, Any]] = []
        if self.params.near and self._near_positions:
            positions = np.concatenate(self._near_positions)  # (M,) global positions
            keys = np.concatenate(self._near_keys)  # (M, b)
            pairs = candidate_pairs(keys)  # (E, 2) local indices
            stats["candidate_pairs"] = len(pairs)
            if self.params.verify:
                pairs, _ = verify_pairs(pairs, self._near_sets, self.params.threshold)
                stats["verified_pairs"] = len(pairs)
            roots = clusters(len(positions), pairs)  # (M,) local root = first occurrence
            members: dict[int, list[int]] = {}
            for local in np.flatnonzero(roots != np.arange(len(positions))).tolist():
                root = int(roots[local])
                members.setdefault(root, []).append(local)
                score = (jaccard(self._near_sets[local], self._near_sets[root])
                         if self.params.verify else None)
                rep = int(positions[root])
                removed[int(positions[local])] = Removal(
                    "near", f"near duplicate (MinHash LSH, Jaccard >= {self.params.threshold})",
                    f"near-{rep}", self.ids[rep], score)
            stats["near_removed"] = sum(len(m) for m in members.values())
            stats["near_clusters"] = len(members)
            biggest = sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
            top_clusters = [{"cluster": f"near-{int(positions[root])}",
                             "size": len(found) + 1,
                             "kept": self.ids[int(positions[root])],
                             "removed": [self.ids[int(positions[m])] for m in found[:5]],
                             "positions": [int(positions[root])] + [int(positions[m])
                                                                    for m in found[:2]]}
                            for root, found in biggest]
        return DedupResult(removed, top_clusters, stats)
