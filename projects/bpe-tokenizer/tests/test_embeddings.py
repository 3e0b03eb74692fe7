import numpy as np
import pytest
from bpe_tokenizer import EmbeddingExplorer, sentence_similarity
from llm_shared import UserError


@pytest.fixture(scope="module")
def explorer():
    return EmbeddingExplorer.load()  # the real SmolLM2 embedding table (49152, 576)


def test_neighbours_are_related_tokens(explorer):
    assert explorer.matrix.shape == (49152, 576)
    found = [token for token, _ in explorer.neighbours("king", k=5)]
    assert " King" in found and " kings" in found
    scores = [score for _, score in explorer.neighbours("dog", k=5)]
    assert scores == sorted(scores, reverse=True) and scores[0] < 1.0


def test_analogy_king_man_woman_is_queen(explorer):
    assert explorer.analogy("king", "man", "woman", k=1)[0][0] == " queen"


def test_token_lookup(explorer):
    assert explorer.token_id("king") == explorer.tokenizer.encode(" king")[0]
    assert explorer.token_id("#905") == 905
    with pytest.raises(UserError, match="not a single SmolLM2 token"):
        explorer.token_id("antidisestablishmentarianism")


def test_projection_is_pca(explorer, tmp_path):
    words = ["one", "two", "three", "red", "green", "blue"]
    xy = explorer.project(words)
    assert xy.shape == (6, 2) and np.allclose(xy.mean(axis=0), 0, atol=1e-4)
    assert abs(np.var(xy[:, 0])) >= abs(np.var(xy[:, 1]))  # first component carries most
    assert explorer.plot_projection(words, tmp_path / "p.png").stat().st_size > 10_000


def test_sentence_similarity_with_the_embedded_encoder():
    sims = sentence_similarity(["A cat sits on the mat.", "A kitten rests on a rug.",
                                "Stock markets fell sharply."])
    assert sims.shape == (3, 3) and np.allclose(np.diag(sims), 1, atol=1e-5)
    assert sims[0, 1] > 0.5 > sims[0, 2]
