"""Greedy outputs of every method equal plain greedy's, token for token, over many prompts.

The reference is Hugging Face `generate(do_sample=False)`; ours run through the verifier."""

import pytest
import torch
from medusa_decoder import DecodeConfig, Decoder
from medusa_decoder.prompts import chat_prompts, docs_prompts

METHODS = ("greedy", "ngram", "draft", "medusa", "hybrid")


def _hf_greedy(model, tok, prompt, n):
    with torch.inference_mode():
        out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt),
                             dtype=torch.long), max_new_tokens=n, do_sample=False,
                             pad_token_id=tok.pad_token_id)
    return out[0, len(prompt):].tolist()


def test_tiny_model_all_methods_equal_hf_greedy(tiny_model, tiny_heads_path):
    model, tok = tiny_model
    decoder = Decoder(DecodeConfig(model="tiny-llama", heads=str(tiny_heads_path), k=4,
                                   tree_size=6, device="cpu"), model, tok)
    prompts = chat_prompts(tok, 6) + docs_prompts(tok, 6)
    for prompt in prompts:
        ref = _hf_greedy(model, tok, prompt, 20)
        for m in METHODS:
            assert decoder.generate(prompt, m, max_tokens=20).tokens == ref, m


def test_real_model_all_methods_equal_hf_greedy(real_model):
    model, tok = real_model
    decoder = Decoder(DecodeConfig(device="cpu"), model, tok)
    prompts = chat_prompts(tok, 1) + docs_prompts(tok, 1)
    accepted = {}
    for prompt in prompts:
        ref = _hf_greedy(model, tok, prompt, 12)
        for m in METHODS:
            res = decoder.generate(prompt, m, max_tokens=12)
            assert res.tokens == ref, m
            accepted.setdefault(m, []).append(res.mean_accepted)
    assert all(a == 1.0 for a in accepted["greedy"])


@pytest.mark.slow
def test_real_model_many_prompts(real_model):
    model, tok = real_model
    decoder = Decoder(DecodeConfig(device="cpu"), model, tok)
    for prompt in chat_prompts(tok, 12) + docs_prompts(tok, 12):
        ref = decoder.generate(prompt, "greedy", max_tokens=48).tokens
        assert ref == _hf_greedy(model, tok, prompt, 48)
        for m in METHODS[1:]:
            assert decoder.generate(prompt, m, max_tokens=48).tokens == ref, m
