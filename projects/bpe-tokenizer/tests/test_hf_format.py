import json
from pathlib import Path

import pytest
from bpe_tokenizer import Tokenizer, load_tokenizer, save_tokenizer
from hypothesis import given
from hypothesis import strategies as st
from llm_shared import EMBEDDED_ENCODER, UserError, model_path
from tokenizers import Tokenizer as HFTokenizer
from transformers import PreTrainedTokenizerFast


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    path = save_tokenizer(trained, tmp_path_factory.mktemp("tok"))
    return path, HFTokenizer.from_file(str(path)), PreTrainedTokenizerFast(tokenizer_file=str(path))


def test_smollm2_worked_example(smollm2, hf_smollm2):
    assert smollm2.encode("Hello world") == [19556, 905]
    assert smollm2.vocab_size == 49152 and len(smollm2.merges) == 48900
    chat = "<|im_start|>user\nHi!<|im_end|>"
    assert smollm2.encode(chat, allowed_special="all") == hf_smollm2.encode(chat).ids


@given(data=st.data())
def test_smollm2_ids_equal_hugging_face(data, texts, smollm2, hf_smollm2):
    text = data.draw(texts)
    ids = smollm2.encode(text, allowed_special="all")
    assert ids == hf_smollm2.encode(text, add_special_tokens=False).ids
    assert smollm2.decode(ids) == hf_smollm2.decode(ids, skip_special_tokens=False)


def test_smollm2_on_real_documents(smollm2, hf_smollm2, docs):
    for text in docs[:40]:
        assert smollm2.encode_ordinary(text) == hf_smollm2.encode(text).ids


def test_smollm2_drops_bytes_it_has_no_token_for_as_hf_does(smollm2, hf_smollm2):
    assert 4 in smollm2.missing_bytes
    assert smollm2.encode("(\x04)") == hf_smollm2.encode("(\x04)").ids == smollm2.encode("()")


@given(data=st.data())
def test_saved_file_gives_same_ids_in_tokenizers_and_transformers(data, texts, trained, saved):
    path, hf, fast = saved
    text = data.draw(texts) + "<|endoftext|>" + data.draw(texts)
    ids = trained.encode(text, allowed_special="all")
    assert hf.encode(text).ids == ids
    assert fast(text)["input_ids"] == ids
    assert hf.decode(ids, skip_special_tokens=False) == trained.decode(ids)


def test_save_load_round_trip(trained, saved, docs):
    path, _, _ = saved
    loaded = load_tokenizer(path.parent)
    assert loaded.merges == trained.merges and loaded.vocab == trained.vocab
    assert loaded.special_tokens == trained.special_tokens
    assert loaded.encode(docs[1]) == trained.encode(docs[1])


@pytest.mark.parametrize("pattern", ["gpt2", "llama3", "none"])
def test_every_pattern_saves_to_an_equivalent_hf_file(pattern, docs, tmp_path):
    # "none" is BPE over whole documents (slow in any implementation): a few short ones
    tok = Tokenizer.train(docs[:30] if pattern != "none" else docs[:3], 300, pattern=pattern)
    hf = HFTokenizer.from_file(str(save_tokenizer(tok, tmp_path / "t.json")))
    for text in docs[30:34]:
        assert hf.encode(text).ids == tok.encode(text)


def test_wrong_kinds_of_file_are_user_errors(write):
    wordpiece = f"{model_path(EMBEDDED_ENCODER)}/tokenizer.json"
    with pytest.raises(UserError, match="WordPiece model, not byte-level BPE"):
        load_tokenizer(wordpiece)
    with pytest.raises(UserError, match="not a JSON tokenizer"):
        load_tokenizer(write("t.json", b"\x80\x81 not json"))
    with pytest.raises(UserError, match="not a tokenizer.json"):
        load_tokenizer(write("u.json", {"hello": 1}))
    with pytest.raises(UserError, match="no tokenizer at"):
        load_tokenizer(write("empty/readme.md", "x").parent)
    data = json.loads((Path(model_path("smollm2-135m-instruct")) / "tokenizer.json").read_text())
    data["normalizer"] = {"type": "NFC"}
    with pytest.raises(UserError, match="NFC normalizer"):
        load_tokenizer(write("nfc.json", data))
