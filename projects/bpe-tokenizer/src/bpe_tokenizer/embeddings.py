"""The chapter's second half: what the embedded model's input embeddings know about tokens.

SmolLM2's first layer is a lookup table E of shape (49152, 576): token id -> vector. Tokens used
alike end up with similar rows, so nearest neighbours by cosine similarity show what the model
learned about a token; vector arithmetic (E[king] - E[man] + E[woman]) probes directions in that
space; a 2-D projection (PCA) draws chosen tokens on a plane. Whole sentences are compared with
the embedded sentence encoder (all-MiniLM-L6-v2: mean-pooled, unit-length vectors).

The matrix is read straight from model.safetensors (no model load, ~1 s). Words are looked up as
one SmolLM2 token, preferring the form with a leading space (" king": the form a word takes inside
a sentence); a word that is several tokens is refused with the tokens it splits into.

    >>> explorer = EmbeddingExplorer.load()
    >>> [token for token, _ in explorer.neighbours("king", k=3)]
    [' King', 'King', ' kings']

Leaves out output embeddings (tied to the input ones in SmolLM2) and contextual embeddings.
Exercised by `bpe-tokenizer embeddings ...` and `tests/test_embeddings.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llm_shared import EMBEDDED_LLM, UserError, atomic_write, model_path

from .hf_format import load_tokenizer
from .tokenizer import Tokenizer

EMBEDDING_KEY = "model.embed_tokens.weight"


def load_embedding_matrix(name: str = EMBEDDED_LLM) -> np.ndarray:
    """The (V, C) input embedding matrix of a Llama-style model directory, as float32."""
    from safetensors import safe_open

    path = Path(model_path(name)) / "model.safetensors"
    if not path.is_file():
        raise UserError(f"{path} not found; pass a model directory with model.safetensors")
    with safe_open(str(path), framework="np") as handle:
        if EMBEDDING_KEY not in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
            raise UserError(f"{path} has no {EMBEDDING_KEY}; pass a Llama-style model")
        return handle.get_tensor(EMBEDDING_KEY).astype(np.float32)  # (V, C)


@dataclass
class EmbeddingExplorer:
    tokenizer: Tokenizer
    matrix: np.ndarray  # (V, C) rows of the embedding table
    unit: np.ndarray  # (V, C) the same rows scaled to length 1, so a dot product is a cosine

    @classmethod
    def load(cls, name: str = EMBEDDED_LLM) -> EmbeddingExplorer:
        matrix = load_embedding_matrix(name)  # (V, C)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (V, 1)
        return cls(load_tokenizer("smollm2"), matrix, matrix / np.maximum(norms, 1e-12))

    def token_id(self, word: str) -> int:
        """' king' if that is one token, else 'king'; '#123' names token id 123 directly."""
        if word.startswith("#") and word[1:].isdigit():
            token_id = int(word[1:])
            if not 0 <= token_id < len(self.matrix):
                raise UserError(f"token id {token_id} is out of range 0..{len(self.matrix) - 1}")
            return token_id
        for form in (" " + word, word) if not word.startswith(" ") else (word,):
            ids = self.tokenizer.encode(form, allowed_special="all")
            if len(ids) == 1:
                return ids[0]
        pieces = [self.token_text(i) for i in self.tokenizer.encode(word, allowed_special="all")]
        raise UserError(f"{word!r} is not a single SmolLM2 token (it splits into {pieces}); pick "
                        "a word that is one token, or pass a token id as #ID")

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    def nearest(self, vector: np.ndarray, k: int, exclude: Sequence[int] = ()
                ) -> list[tuple[str, float]]:
        """The k rows most cosine-similar to `vector`, as (token text, similarity)."""
        query = vector / max(float(np.linalg.norm(vector)), 1e-12)  # (C,)
        scores = self.unit @ query  # (V,)
        scores[list(exclude)] = -np.inf
        best = np.argpartition(-scores, k)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.token_text(int(i)), float(scores[i])) for i in best]

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        token = self.token_id(word)
        return self.nearest(self.matrix[token], k, exclude=[token])

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
        """Tokens nearest to E[a] - E[b] + E[c] (a, b and c themselves left out)."""
        ids = [self.token_id(w) for w in (a, b, c)]
        vector = self.matrix[ids[0]] - self.matrix[ids[1]] + self.matrix[ids[2]]  # (C,)
        return self.nearest(vector, k, exclude=ids)

    def project(self, words: Sequence[str]) -> np.ndarray:
        """(N, 2) PCA coordinates of the words' embeddings (centred, top-2 singular vectors)."""
        if len(words) < 3:
            raise UserError(f"a projection needs at least 3 words (got {len(words)}); pass more")
        points = self.matrix[[self.token_id(w) for w in words]]  # (N, C)
        centred = points - points.mean(axis=0)  # (N, C)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt: (min(N, C), C)
        return centred @ vt[:2].T  # (N, 2)

    def plot_projection(self, words: Sequence[str], path: str | Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xy = self.project(words)  # (N, 2)
        fig, axis = plt.subplots(figsize=(7, 6))
        axis.scatter(xy[:, 0], xy[:, 1], s=18, color="tab:blue")
        for (x, y), word in zip(xy, words, strict=True):
            axis.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=10)
        axis.set_title("SmolLM2 input embeddings, PCA to 2-D")
        axis.set_xlabel("PC 1")
        axis.set_ylabel("PC 2")
        fig.tight_layout()
        target = Path(path)
        with atomic_write(target, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110)
        plt.close(fig)
        return target


def sentence_similarity(sentences: Sequence[str], encoder_name: str = "all-minilm-l6-v2"
                        ) -> np.ndarray:
    """(N, N) cosine similarities of the sentences under the embedded sentence encoder."""
    from llm_shared import load_sentence_encoder

    if len(sentences) < 2:
        raise UserError(f"pass at least 2 sentences to compare (got {len(sentences)})")
    vectors = load_sentence_encoder(encoder_name, device="cpu").encode(list(sentences))  # (N, D)
    return vectors @ vectors.T  # (N, N), rows are unit length
