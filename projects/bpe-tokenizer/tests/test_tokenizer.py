import pytest
from bpe_tokenizer import EncodeError, Tokenizer
from hypothesis import given
from hypothesis import strategies as st


def test_worked_example_from_wikipedia():
    # "aaabdaaabac": aa occurs 4 times -> Z=aa (256); then (Z, a) and (a, b) both occur twice,
    # the tie goes to the smaller pair (97, 98) -> Y=ab (257); then ZY twice -> X=aaab (258).
    tok = Tokenizer.train(["aaabdaaabac"], 259, pattern="none")
    assert tok.merges == [(97, 97, 256), (97, 98, 257), (256, 257, 258)]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]  # X d X a c


@given(data=st.data())
def test_round_trip_is_exact(data, texts, trained):
    text = data.draw(texts)
    assert trained.decode(trained.encode_ordinary(text)) == text


@given(data=st.data())
def test_same_ids_as_tiktoken_built_from_our_ranks(data, texts, trained):
    text = data.draw(texts)
    encoding = trained.to_tiktoken()
    assert trained.encode_ordinary(text) == encoding.encode_ordinary(text)


def test_hard_strings_round_trip(trained):
    for text in ["\x00\x00", "🙂" * 5, "中文分词", "a\u0301", "\r\n\r\n", " " * 50, "\uffff"]:
        ids = trained.encode(text)
        assert trained.decode(ids) == text


@given(data=st.data(), surrogate=st.integers(0xD800, 0xDFFF))
def test_lone_surrogate_anywhere_is_an_error(data, texts, trained, surrogate):
    text = data.draw(texts) + chr(surrogate) + data.draw(texts)
    with pytest.raises(EncodeError, match=f"lone surrogate U\\+{surrogate:04X}"):
        trained.encode(text)


def test_special_tokens_follow_tiktoken(trained):
    encoding = trained.to_tiktoken()
    text = "hi<|endoftext|>there"
    eot = trained.special_tokens["<|endoftext|>"]
    assert trained.vocab_size == 1000 and eot == 998
    with pytest.raises(EncodeError, match="special token"):
        trained.encode(text)
    with pytest.raises(ValueError):  # tiktoken refuses the same text
        encoding.encode(text)
    allowed = trained.encode(text, allowed_special={"<|endoftext|>"})
    assert eot in allowed and allowed == encoding.encode(text, allowed_special={"<|endoftext|>"})
    assert trained.encode(text, allowed_special="all") == allowed
    as_text = trained.encode(text, disallowed_special=())
    assert eot not in as_text and as_text == trained.encode_ordinary(text)
    assert as_text == encoding.encode(text, disallowed_special=())
    assert trained.decode(allowed) == text
    # allowing one special still refuses the other
    with pytest.raises(EncodeError):
        trained.encode("<|fim_prefix|>", allowed_special={"<|endoftext|>"})


def test_cache_gives_the_same_ids(trained, docs):
    text = docs[0]
    trained._cache.clear()
    cold = trained.encode_ordinary(text)
    assert trained._cache and trained.encode_ordinary(text) == cold


def test_truncated_equals_training_to_the_smaller_size(docs):
    big = Tokenizer.train(docs[:80], 700, pattern="gpt4", min_frequency=2)
    small = Tokenizer.train(docs[:80], 400, pattern="gpt4", min_frequency=2)
    cut = big.truncated(400)
    assert cut.merges == small.merges and cut.vocab == small.vocab
