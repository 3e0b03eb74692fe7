import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from llm_shared import UserError, load_causal_lm, load_sentence_encoder, model_path, models


def _chat(model, tokenizer, question: str, max_new_tokens: int = 24) -> str:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                        add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_embedded_model_answers_capital_of_france(smollm2):
    model, tokenizer = smollm2
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert "Paris" in _chat(model, tokenizer, "What is the capital of France?")


def test_second_load_reads_the_cache_without_converting(smollm2, monkeypatch):
    def convert_again(out):
        raise AssertionError("the GGUF was converted again although the cache holds it")

    monkeypatch.setattr(models, "_build_smollm2", convert_again)
    model, _ = load_causal_lm("smollm2-135m-instruct", device="cpu")
    assert model.dtype == torch.float32 and not model.training


def test_cached_folder_is_a_plain_model_directory(smollm2):
    folder = model_path("smollm2-135m-instruct")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json"):
        assert (folder / name).is_file(), name


def test_tiny_llama_is_deterministic_and_small():
    model_a, tokenizer = load_causal_lm("tiny-llama", device="cpu")
    model_b, _ = load_causal_lm("tiny-llama", device="cpu")
    assert model_a.config.num_hidden_layers == 2 and model_a.config.vocab_size == 49152
    ids = tokenizer("def add(a, b):", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        assert torch.equal(model_a(ids).logits, model_b(ids).logits)
    # ~3.2M parameters, 3.1M of them the shared embedding: a forward pass is milliseconds.
    assert sum(p.numel() for p in model_a.parameters()) < 4_000_000
    # Same tokenizer as the real model: the chat template is there.
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"


def test_sentence_encoder_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    texts = ["A cat sits on the mat.", "Stock markets fell sharply today.", "短文本", ""]
    ours = load_sentence_encoder(device="cpu").encode(texts)
    reference = SentenceTransformer(str(model_path("all-minilm-l6-v2")), device="cpu").encode(
        texts, normalize_embeddings=True)
    assert ours.shape == (4, 384)
    np.testing.assert_allclose(ours, reference, atol=2e-5)
    similar = ours[0] @ load_sentence_encoder(device="cpu").encode("A kitten on a rug.")[0]
    assert similar > ours[0] @ ours[1]


def test_tiny_bert_encoder_shape():
    encoder = load_sentence_encoder("tiny-bert", device="cpu")
    vectors = encoder.encode(["one", "two words", "three words here"])
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_unknown_model_offline_is_a_user_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="local model directory"):
        load_causal_lm("no-such-org/no-such-model", device="cpu")


def test_folder_without_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="config.json"):
        model_path(str(tmp_path))


def test_failed_build_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_FULLSTACK_CACHE", str(tmp_path))

    def broken(out):
        (out / "half-written").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        models._materialise("broken", broken)
    assert not (tmp_path / "models" / "broken").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["broken.lock"]


_CHILD = """
import os, sys, time
from llm_shared import models

def build(out):
    with open(os.environ["BUILD_LOG"], "a") as log:
        log.write("built\\n")
    time.sleep(0.5)  # long enough for the other callers to arrive and wait on the lock
    (out / "config.json").write_text("{}")

print(models._materialise("raced", build))
"""


def test_concurrent_callers_build_once(tmp_path):
    env = {**os.environ, "LLM_FULLSTACK_CACHE": str(tmp_path / "cache"),
           "BUILD_LOG": str(tmp_path / "log")}
    children = [subprocess.Popen([sys.executable, "-c", _CHILD], env=env, stdout=subprocess.PIPE,
                                 text=True) for _ in range(3)]
    paths = {child.communicate(timeout=120)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert paths == {str(tmp_path / "cache" / "models" / "raced")}
    assert (tmp_path / "log").read_text().count("built") == 1
    assert (tmp_path / "cache" / "models" / "raced" / "config.json").is_file()
