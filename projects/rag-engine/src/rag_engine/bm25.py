"""BM25 (Lucene variant, the bm25s default) over a sparse term-document matrix.

score(q, d) = sum over query terms t of
    idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl)),
idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)); Lucene >= 8 drops the constant (k1 + 1)
factor of Robertson's form (same ranking). Scores are precomputed per (term, doc) at
index time, so a query is a sum of a few sparse rows. Tokens: lowercase word characters, English
stop words removed, no stemming. Tested to give the same scores as `bm25s` (method="lucene").
Leaves out incremental updates: the index is rebuilt from the store's chunks when it changes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

_WORD = re.compile(r"\w+")
# The usual short English stop list (as in bm25s/sklearn's spirit, shortened to the commonest).
STOPWORDS = frozenset([
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with", "what", "which", "who", "how", "do", "does", "i", "you"])


def tokenize(text: str) -> list[str]:
    """>>> tokenize("The with-statement, and WITH!")
    ['with', 'statement', 'with']"""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25:
    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5,
                 b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)  # (N,)
        for d, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                rows.append(self.vocab.setdefault(term, len(self.vocab)))
                cols.append(d)
                tfs.append(tf)
        self.n_docs = len(documents)
        avgdl = float(lengths.mean()) if self.n_docs else 1.0
        tf = np.array(tfs, dtype=np.float64)
        rows_a, cols_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
        df = np.bincount(rows_a, minlength=len(self.vocab)).astype(np.float64)  # (V,)
        self.idf = np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))  # (V,)
        norm = k1 * (1.0 - b + b * lengths[cols_a] / max(avgdl, 1e-9))
        weight = self.idf[rows_a] * tf / (tf + norm)
        self.matrix = sparse.csr_matrix((weight, (rows_a, cols_a)),
                                        shape=(len(self.vocab), self.n_docs))  # (V, N)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens: shape (N,)."""
        scores = np.zeros(self.n_docs)  # (N,)
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        for term in query:  # a repeated query term counts again, as in bm25s
            row = self.vocab.get(term)
            if row is not None:
                start, end = indptr[row], indptr[row + 1]
                scores[indices[start:end]] += data[start:end]  # doc ids are unique within a row
        return scores

    def top(self, query: Sequence[str], k: int, allowed: np.ndarray | None = None,
            ) -> list[tuple[int, float]]:
        """(doc index, score) of the k best documents with a positive score, ties by index."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
