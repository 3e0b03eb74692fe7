import regex
from bpe_tokenizer.pretokenize import (
    FIRST_GAP_CHARACTER,
    GPT4_PATTERN,
    PATTERNS,
    PreTokenizer,
    bytes_to_unicode,
    compile_pattern,
    pretokenizer_from_json,
    str_to_token,
    token_to_str,
)
from bpe_tokenizer.unicode_gap import L_NEWER, N_NEWER
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import Regex, pre_tokenizers

# tiktoken's own cl100k_base pattern (tiktoken_ext/openai_public.py), verbatim.
CL100K = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
          r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")


def test_worked_examples():
    assert PreTokenizer.from_pattern("gpt2").split("Hello world!!") == ["Hello", " world", "!!"]
    assert PreTokenizer.from_pattern("gpt4").split("x = 12345") == ["x", " =", " ", "123", "45"]
    assert PreTokenizer.from_pattern("none").split("a b") == ["a b"]


def test_byte_table_is_a_bijection_onto_printable_characters():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert token_to_str(b" hi\n") == "ĠhiĊ" and str_to_token("ĠhiĊ") == b" hi\n"


@given(data=st.data())
def test_patterns_cover_all_text(data, texts):
    text = data.draw(texts)
    for name in PATTERNS:
        assert "".join(PreTokenizer.from_pattern(name).split(text)) == text, name


@given(data=st.data())
def test_gpt4_pattern_splits_as_tiktoken_cl100k(data, texts):
    text = data.draw(texts)
    assert regex.findall(GPT4_PATTERN, text) == regex.findall(CL100K, text)


@given(data=st.data())
def test_same_chunks_as_hugging_face(data, texts):
    text = data.draw(texts)
    for name in ("gpt2", "gpt4", "llama3"):
        hf = pre_tokenizers.Split(Regex(PATTERNS[name]), behavior="isolated")
        assert PreTokenizer.from_pattern(name).split(text) == \
            [piece for piece, _ in hf.pre_tokenize_str(text)], name


@given(data=st.data())
def test_general_pipeline_equals_fast_path(data, texts):
    text = data.draw(texts)
    """Digits + ByteLevel(use_regex) through the step functions vs Hugging Face's own."""
    spec = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    ours = pretokenizer_from_json(spec)
    hf = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                  pre_tokenizers.ByteLevel(add_prefix_space=False)])
    assert [token_to_str(p.encode()) for p in ours.split(text)] == \
        [piece for piece, _ in hf.pre_tokenize_str(text)]
    byte_level = PreTokenizer([spec["pretokenizers"][1]])
    assert byte_level._findall is not None  # the fast path: one findall
    assert [token_to_str(p.encode()) for p in byte_level.split(text)] == \
        [piece for piece, _ in pre_tokenizers.ByteLevel(add_prefix_space=False)
         .pre_tokenize_str(text)]


def test_letters_newer_than_oniguruma_are_not_letters():
    # Every boundary of the unicode_gap table, plus its neighbours, classed as Hugging Face does.
    points = {c + d for a, b in L_NEWER + N_NEWER for c in (a, b) for d in (-1, 0, 1)}
    text = "".join(chr(c) for c in sorted(points))
    for name in ("L", "N"):
        hf = pre_tokenizers.Split(Regex(rf"\p{{{name}}}"), behavior="removed")
        theirs = set(text) - set("".join(p for p, _ in hf.pre_tokenize_str(text)))
        assert set(compile_pattern(rf"\p{{{name}}}").findall(text)) == theirs
        assert set(regex.findall(rf"\p{{{name}}}", text)) != theirs  # the gap is real


@given(data=st.data())
def test_plain_and_gap_aware_patterns_agree_below_the_gap(data, texts):
    text = "".join(c for c in data.draw(texts) if c < FIRST_GAP_CHARACTER)
    for name in ("gpt2", "gpt4", "llama3"):
        assert regex.findall(PATTERNS[name], text) == \
            compile_pattern(PATTERNS[name]).findall(text), name
