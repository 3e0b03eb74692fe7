"""Shared fixtures: a tokenizer trained on a slice of the Python docs, SmolLM2's tokenizer (ours
and Hugging Face's), and hypothesis strategies for arbitrary text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bpe_tokenizer import Tokenizer, load_tokenizer
from bpe_tokenizer.hf_format import resolve_tokenizer_file
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from llm_shared import iter_corpus

settings.register_profile("fast", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fast")

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>"]

# Text that stresses byte-level BPE: any code point but lone surrogates (what UTF-8 can encode),
# plus the usual suspects (emoji with joiners, CJK, NUL, CRLF, runs of spaces and digits).
SAMPLES = ["", " ", "\x00", "héllo wörld", "日本語のテキスト", "👩‍👩‍👧 family 🙂",
           "x = [1, 22, 333, 4444]\r\n\tif x:\n        pass  ", "I'm   SHOUTING's", "١٢٣ ½ Ⅻ"]


@pytest.fixture(scope="session")
def texts() -> st.SearchStrategy[str]:
    """Use as `@given(data=st.data())` + `data.draw(texts)` (strategies cannot be imported from
    conftest under --import-mode=importlib)."""
    return st.one_of(st.text(), st.text(alphabet=st.characters(codec="utf-8")),
                     st.sampled_from(SAMPLES),
                     st.lists(st.sampled_from(SAMPLES + ["ab", " the", "\n"])).map("".join))


@pytest.fixture(scope="session")
def docs() -> list[str]:
    """The Python docs (pydoc topics): ~0.47 MB of real prose and code."""
    return [d.text for d in iter_corpus(["topics"])]


@pytest.fixture(scope="session")
def trained(docs) -> Tokenizer:
    """1000 tokens learned from the first 200 topics, with two special tokens (~0.5 s)."""
    return Tokenizer.train(docs[:200], 1000, pattern="gpt4", special_tokens=SPECIALS)


@pytest.fixture(scope="session")
def smollm2() -> Tokenizer:
    return load_tokenizer("smollm2")


@pytest.fixture(scope="session")
def hf_smollm2():
    from tokenizers import Tokenizer as HFTokenizer

    return HFTokenizer.from_file(str(resolve_tokenizer_file("smollm2")))


@pytest.fixture()
def write(tmp_path):
    """write("name.txt", str | bytes) -> path of a file in a fresh temp dir."""

    def _write(name: str, content: str | bytes | dict) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = json.dumps(content)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write
