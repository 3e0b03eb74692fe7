import math

import bm25s
import numpy as np
import pytest
from rag_engine.bm25 import BM25, tokenize
from rag_engine.metrics import first_relevant, ndcg_at_k, recall_at_k, reciprocal_rank
from rag_engine.retrieve import mmr, rrf


def test_bm25_matches_bm25s_lucene():
    docs = ["the cat sat on the mat", "dogs and cats living together", "a cat is a cat is a cat",
            "nothing here at all", "mat mat mat cat dog"]
    tokens = [tokenize(d) for d in docs]
    ours = BM25(tokens)
    ref = bm25s.BM25(method="lucene")
    ref.index(tokens, show_progress=False)
    for query in ("cat mat", "dog", "together cats", "unknown"):
        np.testing.assert_allclose(ours.scores(tokenize(query)), ref.get_scores(tokenize(query)),
                                   rtol=1e-6)


def test_bm25_worked_example():
    # 2 docs; "b" occurs once in doc 0 (length 2), avgdl 1.5, df 1, N 2.
    bm = BM25([["a", "b"], ["a"]], k1=1.5, b=0.75)
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 / (1 + 1.5 * (1 - 0.75 + 0.75 * 2 / 1.5))
    assert bm.scores(["b"])[0] == pytest.approx(expected)
    assert bm.top(["b"], 5) == [(0, pytest.approx(expected))]  # zero scores are not hits


def test_rrf_worked_example():
    fused = rrf([[3, 1], [1, 2]])
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_mmr_prefers_diversity():
    q = np.array([1.0, 0.0, 0.0])
    near = np.array([0.9, 0.43589, 0.0])
    twin = near.copy()
    other = np.array([0.8, 0.0, 0.6])
    vectors = np.stack([near, twin, other])
    assert mmr(q, vectors, 2, 1.0) == [0, 1]  # relevance only
    assert mmr(q, vectors, 2, 0.5) == [0, 2]  # the duplicate is penalised


def test_metric_worked_example():
    relevance = [False, True, False, True]
    assert first_relevant(relevance) == 2
    assert recall_at_k(2, 1) == 0 and recall_at_k(2, 2) == 1
    assert reciprocal_rank(relevance) == 0.5
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(relevance, 2) == pytest.approx(expected)
    assert ndcg_at_k([True, True], 2) == pytest.approx(1.0)
