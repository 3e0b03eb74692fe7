"""MinHash signatures for a whole batch of documents at once, and the LSH band parameters.

Shingles -> 32-bit hashes -> one (num_docs, num_perm) uint32 matrix, with no Python loop per
shingle or per permutation:

1. Words are runs of non-whitespace bytes (after normalisation: lower-case, no punctuation);
   every word of a batch is hashed at once from one polynomial prefix sum over the batch's
   UTF-8 bytes (`word_units`); a shingle's hash mixes its n word hashes with a rolling
   combination over numpy slices of the whole batch; char shingles do the same over UTF-32 code
   points. `shingle_hashes("a b c", "word", 2)` -> 2 values.
2. The permutations are datasketch's "affine32" scheme, bit for bit: the MurmurHash3 finalizer
   `fmix32(h)`, then `a_k * h + b_k mod 2^32` with `a_k` odd, `a, b` drawn from
   `np.random.RandomState(seed)` exactly as `datasketch.MinHash(num_perm, seed)` draws them.
   Given the same shingle hashes, our signatures equal datasketch's (tested).
3. `np.minimum.reduceat` takes the per-document minimum over the concatenated shingles.

`optimal_bands(threshold, num_perm)` picks bands b and rows r (b * r <= num_perm) minimising
the weighted false-positive + false-negative probability, as datasketch's `_optimal_param`
does; the integrals are computed with Simpson's rule over all (b, r) at once.
Leaves out the legacy Mersenne-prime scheme and GPU kernels. Exercised by `minhash-dedup bench`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EMPTY_HASH = np.uint32(0xFFFFFFFF)  # signature value of a document without shingles
_MIX64 = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier of the rolling combination
# NOTE: chosen so one (num_perm, chunk) uint32 block stays ~32 MB at num_perm=128; larger blocks
# were not faster here and cost memory.
CHUNK_SHINGLES = 1 << 16
_BASE = np.uint64(0x100000001B3)  # odd, so invertible mod 2^64 (FNV's prime)
_BASE_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_TABLES: dict[str, np.ndarray] = {}  # per process: powers of B, their inverses, a scratch block


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(B^k, B^-k) mod 2^64 for k < n, from a table grown by doubling and kept between calls."""
    if len(_TABLES.get("pow", ())) < n:
        size = max(n, 2 * len(_TABLES.get("pow", ())), 1 << 16)
        _TABLES["pow"] = np.cumprod(np.full(size, _BASE, np.uint64)) * _BASE_INV  # (size,)
        _TABLES["inv"] = np.cumprod(np.full(size, _BASE_INV, np.uint64)) * _BASE  # (size,)
    return _TABLES["pow"][:n], _TABLES["inv"][:n]


def _scratch64(n: int) -> np.ndarray:
    """A reused (n,) uint64 vector for the byte prefix sums (same reason as `_scratch`)."""
    vector = _TABLES.get("scratch64")
    if vector is None or len(vector) < n:
        vector = _TABLES["scratch64"] = np.empty(max(n, 1 << 20), np.uint64)
    return vector[:n]


def _scratch(rows: int, cols: int) -> np.ndarray:
    """A reused (rows, cols) uint32 block: fresh 100 MB allocations cost more in page faults
    than the multiply that fills them."""
    block = _TABLES.get("scratch")
    if block is None or block.shape[0] != rows or block.shape[1] < cols:
        block = _TABLES["scratch"] = np.empty((rows, max(cols, 2 * CHUNK_SHINGLES)), np.uint32)
    return block[:, :cols]


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), the same as datasketch's `_fmix(h, 32)`."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _roll(units: np.ndarray, n: int) -> np.ndarray:
    """(L,) uint64 unit hashes -> (L - n + 1,) uint32 hashes of every window of n units."""
    n = min(n, len(units))  # a text shorter than one shingle is one shingle
    m = len(units) - n + 1
    acc = units[:m].copy()
    for k in range(1, n):
        acc = acc * _MIX64 + units[k:k + m]  # wraps mod 2^64, as intended
    return (fmix64(acc) >> np.uint64(32)).astype(np.uint32)


def word_units(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the words (runs of non-ASCII-whitespace bytes) of many texts at once:
    (units (U,) uint64, words per text (D,) int64), with no Python loop per word.

    A word's hash is its bytes' polynomial sum_k (byte_k + 1) * B^(k - start) mod 2^64, read off
    one prefix sum over the whole batch (B is odd, hence invertible mod 2^64), then fmix64.
    """
    encoded = [t.encode("utf-8") for t in texts]
    sizes = np.fromiter(map(len, encoded), np.int64, len(encoded))  # (D,)
    raw = np.frombuffer(b"\n".join(encoded), np.uint8)  # (N,) texts joined by a space byte
    space = (raw == 32) | ((raw >= 9) & (raw <= 13))  # (N,) ASCII whitespace
    edge = np.diff(np.concatenate([[True], space, [True]]).astype(np.int8))  # (N + 1,)
    starts = np.flatnonzero(edge == -1)  # (U,) first byte of each word
    ends = np.flatnonzero(edge == 1)  # (U,) one past the last byte
    powers, inverse = _powers(len(raw))  # (N,) B^k and B^-k, mod 2^64
    prefix = _scratch64(len(raw) + 1)  # (N + 1,) prefix[k] = sum_{j<k} (byte_j + 1) * B^j
    prefix[0] = 0
    np.add(raw, 1, out=prefix[1:], casting="unsafe")
    np.multiply(prefix[1:], powers, out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    units = fmix64((prefix[ends] - prefix[starts]) * inverse[starts])  # (U,)
    offsets = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]])  # (D,) byte offset of each text
    doc = np.searchsorted(offsets, starts, side="right") - 1  # (U,)
    return units, np.bincount(doc, minlength=len(texts)).astype(np.int64)


def shingle_hashes(text: str, unit: str = "word", n: int = 5) -> np.ndarray:
    """32-bit hashes of the word or character n-gram shingles of `text` (duplicates kept).

    >>> len(shingle_hashes("to be or not to be", "word", 2))   # to be, be or, or not, not to, to be
    5
    """
    return batch_shingle_hashes([text], unit, n)[0]


def batch_shingle_hashes(texts: list[str], unit: str = "word",
                         n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of many texts in one pass: (values (S,) uint32, counts (D,) int64).

    Equal to concatenating `shingle_hashes(t)` for every text, but the rolling combination runs
    once over all texts' units (windows that cross a document boundary are dropped), so the
    numpy call count does not grow with the number of documents.
    """
    if unit == "word":
        units, lengths = word_units(texts)  # (U,), (D,)
    else:
        encoded = [t.encode("utf-32-le") for t in texts]
        lengths = np.fromiter((len(e) // 4 for e in encoded), np.int64, len(encoded))  # (D,)
        units = np.frombuffer(b"".join(encoded), np.uint32).astype(np.uint64)  # (U,)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)  # (D,)
    windows = np.maximum(lengths - n + 1, 0)  # (D,) full windows per document
    short = np.flatnonzero((lengths > 0) & (lengths < n))  # one shingle of all their units
    counts = windows.copy()
    counts[short] = 1
    if len(units) >= n and windows.sum():
        m = len(units) - n + 1
        acc = units[:m].copy()  # (m,) rolling over the concatenation
        for k in range(1, n):
            acc *= _MIX64
            acc += units[k:k + m]
        first = np.concatenate([[0], np.cumsum(windows)[:-1]])  # (D,)
        take = np.arange(int(windows.sum())) + np.repeat(starts - first, windows)  # (S_full,)
        full = (fmix64(acc[take]) >> np.uint64(32)).astype(np.uint32)
    else:
        full = np.empty(0, np.uint32)
    if len(short) == 0:
        return full, counts
    # Rare: documents shorter than one shingle; splice their single hash in at their place.
    out = np.empty(int(counts.sum()), np.uint32)
    out_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    is_full = np.ones(len(out), bool)
    is_full[out_starts[short]] = False
    out[is_full] = full
    out[out_starts[short]] = [_roll(units[starts[i]:starts[i] + lengths[i]], n)[0] for i in short]
    return out, counts


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), each (num_perm,) uint32, drawn as datasketch's affine32 scheme draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hashes: list[np.ndarray], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """Shingle hashes of D documents -> (D, num_perm) uint32 MinHash signatures.

    A document without shingles gets the all-0xFFFFFFFF signature (datasketch's empty MinHash).
    """
    counts = np.fromiter(map(len, hashes), np.int64, len(hashes))
    values = np.concatenate(hashes) if hashes else np.empty(0, np.uint32)
    return signatures_flat(values, counts, num_perm, seed)


def signatures_flat(values: np.ndarray, counts: np.ndarray, num_perm: int = 128,
                    seed: int = 1) -> np.ndarray:
    """`signatures` on the concatenated hashes (S,) and the per-document counts (D,)."""
    a, b = permutations(num_perm, seed)
    out = np.full((len(counts), num_perm), EMPTY_HASH, np.uint32)  # (D, P)
    docs = np.flatnonzero(counts)
    if len(docs) == 0:
        return out
    lengths = counts
    values = fmix32(values.astype(np.uint32, copy=False))  # (S,)
    doc_starts = np.concatenate([[0], np.cumsum(lengths[docs])[:-1]])  # (D',)
    # Pieces: documents, with very long ones cut every CHUNK_SHINGLES so no block gets too big.
    cuts = [doc_starts]
    for i in np.flatnonzero(lengths[docs] > CHUNK_SHINGLES):
        cuts.append(np.arange(doc_starts[i] + CHUNK_SHINGLES, doc_starts[i] + lengths[docs][i],
                              CHUNK_SHINGLES))
    piece_starts = np.unique(np.concatenate(cuts))  # (Q,) sorted
    piece_mins = np.empty((num_perm, len(piece_starts)), np.uint32)  # (P, Q)
    # Blocks of pieces whose starts fall in the same CHUNK_SHINGLES window: <= 2 chunks each.
    block = piece_starts // CHUNK_SHINGLES
    edges = np.concatenate([[0], np.flatnonzero(np.diff(block)) + 1, [len(piece_starts)]])
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        start = piece_starts[lo]
        stop = piece_starts[hi] if hi < len(piece_starts) else len(values)
        # Permutation-major (P, S_block): reduceat along the contiguous axis is ~100x faster.
        phv = _scratch(num_perm, stop - start)  # (P, S_block)
        np.multiply(a[:, None], values[None, start:stop], out=phv)  # wraps mod 2^32
        phv += b[:, None]
        piece_mins[:, lo:hi] = np.minimum.reduceat(phv, piece_starts[lo:hi] - start, axis=1)
    first_piece = np.searchsorted(piece_starts, doc_starts)  # (D',)
    out[docs] = np.minimum.reduceat(piece_mins, first_piece, axis=1).T  # (D', P)
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(D, P) signatures -> (D, bands) uint64 keys; equal band slices give equal keys."""
    keys = np.zeros((len(sigs), bands), np.uint64)  # (D, b)
    for band in range(bands):
        acc = np.zeros(len(sigs), np.uint64)
        for col in sigs[:, band * rows:(band + 1) * rows].T.astype(np.uint64):  # (D,) per row
            acc = (acc ^ col) * _MIX64
        keys[:, band] = fmix64(acc)
    return keys


def _simpson(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Simpson's rule along the last axis of y sampled at an odd number of even points."""
    h = (hi - lo) / (y.shape[-1] - 1)
    inner = 4 * y[..., 1:-1:2].sum(-1) + 2 * y[..., 2:-1:2].sum(-1)
    return h / 3 * (y[..., 0] + y[..., -1] + inner)


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """(b, r) with b * r <= num_perm minimising fp_weight * P(FP) + (1 - fp_weight) * P(FN).

    P(FP) = integral_0^t of 1 - (1 - s^r)^b ds and P(FN) = integral_t^1 of (1 - s^r)^b ds,
    datasketch's definitions; ties go to the smaller b, then the smaller r, as in its loop.
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], np.float64)[:, None]  # (K, 1)
    r = np.array([p[1] for p in pairs], np.float64)[:, None]  # (K, 1)
    grid = 2001  # odd for Simpson; error << the gaps between neighbouring (b, r) here
    s_lo = np.linspace(0.0, threshold, grid)[None, :]  # (1, G)
    s_hi = np.linspace(threshold, 1.0, grid)[None, :]  # (1, G)
    fp = _simpson(1.0 - (1.0 - s_lo**r) ** b, 0.0, threshold)  # (K,)
    fn = _simpson((1.0 - s_hi**r) ** b, threshold, 1.0)  # (K,)
    error = fp * fp_weight + fn * (1.0 - fp_weight)
    best = int(np.argmin(error))  # first minimum = datasketch's strict `<` tie rule
    return pairs[best]
