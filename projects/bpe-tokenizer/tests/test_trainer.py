from collections import Counter

import pytest
from bpe_tokenizer import PreTokenizer, count_pretokens, recount_train_bpe, train_bpe
from bpe_tokenizer.trainer import merge_word
from hypothesis import given
from hypothesis import strategies as st
from llm_shared import UserError


def test_worked_example_by_hand():
    # "aaab": (a, a) occurs twice, (a, b) once -> merge aa (256); then "aa a b" has (aa, a)
    # and (a, b) once each: the tie goes to the smaller pair, (97, 98) < (256, 97) -> ab (257).
    merges, vocab = train_bpe({b"aaab": 1}, 258)
    assert merges == [(97, 97, 256), (97, 98, 257)]
    assert vocab[257] == b"ab"


def test_counts_weight_pairs():
    # "ab" x1 vs "cd" x5 as unique words with counts: cd wins although ab comes first.
    merges, _ = train_bpe({b"ab": 1, b"cd": 5}, 257)
    assert merges == [(99, 100, 256)]


def test_merge_word_is_left_to_right_non_overlapping():
    assert merge_word([1, 1, 1], 1, 1, 7) == [7, 1]
    assert merge_word([1, 2, 3, 1, 2], 1, 2, 9) == [9, 3, 9]


def test_identical_to_recount_baseline_on_the_python_docs(docs):
    counts = count_pretokens(docs[:40], PreTokenizer.from_pattern("gpt4"))
    ours, ours_vocab = train_bpe(counts, 350, min_frequency=2)
    reference, reference_vocab = recount_train_bpe(counts, 350, min_frequency=2)
    assert ours == reference and ours_vocab == reference_vocab
    assert len(ours) == 350 - 256


@given(st.dictionaries(st.binary(min_size=1, max_size=8), st.integers(1, 20), min_size=1,
                       max_size=30), st.integers(256, 330))
def test_identical_to_recount_baseline_on_random_corpora(counts, vocab_size):
    merges, vocab = train_bpe(counts, vocab_size)
    assert (merges, vocab) == recount_train_bpe(counts, vocab_size)
    assert len(set(vocab.values())) == len(vocab)  # never the same bytes under two ids


def test_min_frequency_stops_early():
    merges, vocab = train_bpe({b"abab": 1, b"cd": 1}, 300, min_frequency=2)
    assert merges == [(97, 98, 256)] and len(vocab) == 257


def test_bad_inputs_are_user_errors():
    with pytest.raises(UserError, match="empty"):
        train_bpe(Counter(), 300)
    with pytest.raises(UserError, match="at least 256"):
        train_bpe({b"ab": 1}, 100)
