import pytest
from bpe_tokenizer import PreTokenizer, Tokenizer, count_pretokens, iter_texts
from llm_shared import UserError


def test_counts_unique_pretokens():
    counts = count_pretokens(["a cat, a cat"], PreTokenizer.from_pattern("gpt2"))
    assert counts == {b"a": 1, b" cat": 2, b",": 1, b" a": 1}


def test_files_folders_jsonl_and_builtin_corpus(write):
    one = write("data/one.txt", "first")
    write("data/sub/two.md", "second")
    write("data/.hidden/x.txt", "hidden")
    records = write("r.jsonl", '{"text": "third"}\n\n{"text": "fourth", "id": 1}\n')
    assert list(iter_texts([str(one.parent), str(records)])) == ["first", "second", "third",
                                                                   "fourth"]
    first_doc = next(iter_texts([]))  # default: the Python docs
    assert first_doc.startswith('The "assert" statement')


def test_invalid_utf8_trains_on_the_raw_bytes(write):
    path = write("bad.txt", b"caf\xe9 caf\xe9 caf\xe9 \xff\xfe")
    counts = count_pretokens(iter_texts([str(path)]), PreTokenizer.from_pattern("gpt4"))
    # each bad byte is kept as itself (a lone surrogate while the regex runs)
    assert counts[b" caf"] == 2 and counts[b"\xe9"] == 3 and counts[b" \xff\xfe"] == 1
    assert sum(len(chunk) * n for chunk, n in counts.items()) == path.stat().st_size
    tok = Tokenizer.train(iter_texts([str(path)]), 260, pattern="gpt4")
    assert tok.vocab[256] == b"af"  # (c, a) and (a, f) both occur 3 times: (97, 102) is smaller


@pytest.mark.parametrize(("content", "field", "message"), [
    ('{"text": 1}\n', "text", "no string field 'text'"),
    ("not json\n", "text", "is not valid JSON"),
    ('{"body": "x"}\n', "text", "no string field"),
])
def test_bad_jsonl_is_a_user_error(write, content, field, message):
    path = write("bad.jsonl", content)
    with pytest.raises(UserError, match=message):
        list(iter_texts([str(path)], jsonl_field=field))


def test_missing_and_empty_inputs(write, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        list(iter_texts([str(tmp_path / "nope.txt")]))
    with pytest.raises(UserError, match="no text files"):
        list(iter_texts([str(write("empty/x.bin", b"").parent)]))
    with pytest.raises(UserError, match="empty"):
        Tokenizer.train(iter_texts([str(write("blank.txt", ""))]), 300)
