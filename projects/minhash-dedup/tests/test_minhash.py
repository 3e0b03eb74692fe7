"""MinHash and LSH vs datasketch: bit-identical signatures, Jaccard within error, same b x r."""

import math

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param
from minhash_dedup import (
    batch_shingle_hashes,
    candidate_pairs,
    optimal_bands,
    shingle_hashes,
    signatures,
)
from minhash_dedup import minhash as mh
from minhash_dedup.lsh import UnionFind, clusters, jaccard


def _datasketch(values, num_perm=128, seed=1):
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)  # same 32-bit shingle hashes
    m.update_batch([int(v) for v in values])
    return m


def test_worked_example_shingle_count():
    assert len(shingle_hashes("to be or not to be", "word", 2)) == 5
    hashes = shingle_hashes("to be or not to be", "word", 2)
    assert hashes[0] == hashes[4]  # "to be" twice
    assert len(set(hashes.tolist())) == 4
    assert len(shingle_hashes("abcdef", "char", 3)) == 4
    assert len(shingle_hashes("one two", "word", 5)) == 1  # shorter than n: one shingle


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7)])
def test_signatures_bit_identical_to_datasketch_affine32(num_perm, seed):
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, 2**32, size, dtype=np.uint64).astype(np.uint32)
            for size in (1, 5, 300, 2000)] + [np.empty(0, np.uint32)]
    ours = signatures(docs, num_perm, seed)
    for row, values in zip(ours, docs, strict=True):
        np.testing.assert_array_equal(row, _datasketch(values, num_perm, seed).hashvalues)


def test_long_documents_are_cut_into_pieces_with_the_same_result(monkeypatch):
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32) for n in (50, 7, 130)]
    whole = signatures(docs)
    monkeypatch.setattr(mh, "CHUNK_SHINGLES", 16)
    np.testing.assert_array_equal(signatures(docs), whole)


def test_batch_shingles_equal_per_document_shingles():
    texts = ["the quick brown fox jumps over the lazy dog", "", "a b", "x", "héllo wörld  again",
             "tab\tseparated\nlines here and there"]
    for unit, n in (("word", 5), ("word", 1), ("char", 4)):
        values, counts = batch_shingle_hashes(texts, unit, n)
        per_doc = [shingle_hashes(t, unit, n) for t in texts]
        assert counts.tolist() == [len(p) for p in per_doc]
        np.testing.assert_array_equal(values, np.concatenate(per_doc))


def _set_pair(rng, size, target):
    """Two sets of words with exact Jaccard `target` (up to rounding)."""
    shared = round(2 * size * target / (1 + target))
    words = [f"w{i}" for i in rng.permutation(10 * size)]
    a = words[:size]
    b = a[:shared] + words[size:2 * size - shared]
    return a, b


@pytest.mark.parametrize("target", [0.2, 0.5, 0.8, 0.95])
def test_jaccard_estimate_agrees_with_datasketch_within_theory(target):
    num_perm = 256
    rng = np.random.default_rng(int(target * 100))
    a, b = _set_pair(rng, 400, target)
    exact = len(set(a) & set(b)) / len(set(a) | set(b))
    ours = signatures([shingle_hashes(" ".join(a), "word", 1),
                       shingle_hashes(" ".join(b), "word", 1)], num_perm)
    ours_est = float(np.mean(ours[0] == ours[1]))
    ma, mb = MinHash(num_perm=num_perm), MinHash(num_perm=num_perm)  # datasketch's own hashing
    ma.update_batch([w.encode() for w in a])
    mb.update_batch([w.encode() for w in b])
    ds_est = ma.jaccard(mb)
    sigma = math.sqrt(exact * (1 - exact) / num_perm)  # std of the MinHash estimator
    assert abs(ours_est - exact) <= 4 * sigma + 1e-9
    assert abs(ds_est - exact) <= 4 * sigma + 1e-9
    assert abs(ours_est - ds_est) <= 4 * math.sqrt(2) * sigma + 1e-9


@pytest.mark.parametrize("num_perm", [32, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
def test_optimal_bands_match_datasketch(threshold, num_perm):
    assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_optimal_bands_weighting_moves_toward_fewer_false_positives():
    b_fp, r_fp = optimal_bands(0.8, 128, 0.9)
    assert (b_fp, r_fp) == _optimal_param(0.8, 128, 0.9, 0.1)


def test_candidate_pairs_match_datasketch_lsh_buckets():
    rng = np.random.default_rng(3)
    base = [rng.integers(0, 2**32, 200, dtype=np.uint64).astype(np.uint32) for _ in range(30)]
    docs = base + [np.concatenate([b[:190], rng.integers(0, 2**32, 10, dtype=np.uint64)
                                   .astype(np.uint32)]) for b in base[:10]]
    sigs = signatures(docs)
    b, r = optimal_bands(0.7, 128)
    keys = mh.band_keys(sigs, b, r)
    ours = candidate_pairs(keys)
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    for i, row in enumerate(sigs):
        lsh.insert(i, MinHash(hashvalues=row, scheme="affine32"))
    theirs = {(min(i, j), max(i, j)) for i, row in enumerate(sigs)
              for j in lsh.query(MinHash(hashvalues=row, scheme="affine32")) if j != i}
    # ours links each bucket member to the bucket's first document: same connected components
    roots_ours = clusters(len(docs), ours)
    roots_theirs = clusters(len(docs), np.array(sorted(theirs), np.int64).reshape(-1, 2))
    np.testing.assert_array_equal(roots_ours, roots_theirs)
    assert {tuple(p) for p in ours.tolist()} <= theirs
    assert len(theirs) >= 10  # the planted pairs are found


def test_union_find_root_is_the_first_occurrence():
    uf = UnionFind(6)
    uf.union(4, 2)
    uf.union(5, 4)
    uf.union(3, 1)
    assert uf.roots().tolist() == [0, 1, 2, 1, 2, 2]


def test_exact_jaccard_worked_example():
    assert jaccard(np.array([1, 2, 3], np.uint32), np.array([2, 3, 4], np.uint32)) == 0.5


def test_verify_leans_the_band_choice_to_recall_unless_the_user_sets_the_weight():
    from minhash_dedup.config import VERIFY_FP_WEIGHT, PipelineConfig
    from minhash_dedup.dedup import IndexParams

    plain = IndexParams.from_config(PipelineConfig())
    verified = IndexParams.from_config(PipelineConfig(verify=True))
    pinned = IndexParams.from_config(PipelineConfig(verify=True, fp_weight=0.5))
    assert (plain.bands, plain.rows) == _optimal_param(0.8, 128, 0.5, 0.5) == (9, 13)
    assert (verified.bands, verified.rows) == _optimal_param(
        0.8, 128, VERIFY_FP_WEIGHT, 1 - VERIFY_FP_WEIGHT) == (12, 10)
    assert (pinned.bands, pinned.rows) == (9, 13)


def test_verify_recall_equals_datasketch_with_the_same_weights_and_check():
    """Seeded planted corpus (48 true pairs at J >= 0.8): --verify finds 46 of them, and so does
    datasketch given the same FP weight (0.2) and the same exact-Jaccard check: the recall gain
    over the plain rows (39 resp. 40 of 48) is the setting, not the implementation."""
    from minhash_dedup.benchmark import BenchConfig, run_bench

    row = run_bench(BenchConfig(docs=1500, words=120, thresholds=[0.8]), timed=False)["rows"][0]
    assert row["true pairs"] == 48
    assert (row["ours --verify P"], row["ours --verify R"]) == (1.0, round(46 / 48, 4))
    assert (row["datasketch --verify P"], row["datasketch --verify R"]) == (1.0, round(46 / 48, 4))
    assert (row["ours R"], row["datasketch R"]) == (round(39 / 48, 4), round(40 / 48, 4))


def test_jaccard_takes_raw_hash_arrays_with_repeats_in_any_order():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 40, 300).astype(np.uint32)  # many repeats, unsorted
    b = rng.integers(20, 60, 200).astype(np.uint32)
    sa, sb = set(a.tolist()), set(b.tolist())
    assert jaccard(a, b) == len(sa & sb) / len(sa | sb)
    assert jaccard(np.array([3, 1, 1, 2], np.uint32), np.array([2, 3, 4, 4], np.uint32)) == 0.5


def test_shingle_slices_are_the_documents_hashes():
    from minhash_dedup.dedup import shingle_slices

    counts = np.array([2, 0, 3])
    values = np.arange(5, dtype=np.uint32)
    got = shingle_slices(values, counts)
    assert [g.tolist() for g in got] == [[0, 1], [], [2, 3, 4]]
