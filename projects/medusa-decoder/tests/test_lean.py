"""The lean engine against Hugging Face: same logits for prefill, chains and trees, same cache
after keeping a path, same greedy tokens, and bf16 close to HF's own bf16 forward."""

import copy

import pytest
import torch
from llm_shared import UserError
from medusa_decoder import DecodeConfig, Decoder
from medusa_decoder.kv import LeanRunner
from medusa_decoder.lean import LeanLlama, lean_engine, resolve_dtype
from medusa_decoder.prompts import chat_prompts
from medusa_decoder.tree import DraftTree


def _plain_logits(model, ids):
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0]  # (T, V)


def test_prefill_logits_equal_hf(tiny_model):
    model, _ = tiny_model
    ids = [1, 300, 400, 500, 600, 700, 800]
    engine = LeanLlama(model)
    cache = engine.new_cache(4)  # too small on purpose: the cache grows
    logits = engine.logits(engine.forward(torch.tensor(ids), torch.arange(len(ids)), cache))
    torch.testing.assert_close(logits, _plain_logits(model, ids), atol=1e-5, rtol=1e-4)


def test_keep_then_chain_equal_plain_forwards(tiny_model):
    """(The tree's own logits against HF: tests/test_kv.py, for both runners.)"""
    model, _ = tiny_model
    prompt = [1, 300, 400, 500, 600]
    runner = LeanRunner(lean_engine(model))
    runner.prefill(prompt)
    runner.verify(DraftTree([700, 11, 12, 13, 14], [-1, 0, 0, 1, 2]))
    runner.keep([0, 2, 4])  # the branch 700 -> 12 -> 14
    assert runner.length == len(prompt) + 3
    chain, _ = runner.verify(DraftTree.chain([99, 98, 97]))  # causal chain, no tree mask
    ref = _plain_logits(model, prompt + [700, 12, 14, 99, 98, 97])[-3:]
    torch.testing.assert_close(chain, ref, atol=1e-5, rtol=1e-4)


def test_lean_and_hf_engines_decode_the_same_tokens(tiny_model, tiny_heads_path):
    model, tok = tiny_model
    prompt = list(tok("def add(a, b):\n    return a + b\n\ndef add(a, b):")["input_ids"])
    outs = {}
    for engine in ("lean", "hf"):
        decoder = Decoder(DecodeConfig(model="tiny-llama", heads=str(tiny_heads_path),
                                       engine=engine, device="cpu"), model, tok)
        outs[engine] = [decoder.generate(prompt, m, max_tokens=16).tokens
                        for m in ("greedy", "ngram", "medusa")]
    assert outs["lean"] == outs["hf"]
    assert all(o == outs["lean"][0] for o in outs["lean"])


def test_bfloat16_engine_is_close_to_hf_bfloat16(tiny_model):
    model, _ = tiny_model
    ids = [1, 300, 400, 500, 600, 700]
    ours = lean_engine(model, torch.bfloat16)
    assert ours.dtype == torch.bfloat16 and model.lm_head.weight.dtype == torch.float32
    logits = ours.logits(ours.forward(torch.tensor(ids), torch.arange(len(ids)),
                                      ours.new_cache(8))).float()
    hf16 = copy.deepcopy(model).to(torch.bfloat16)
    ref = _plain_logits(hf16, ids).float()
    # bf16 keeps ~3 significant digits; both round the same ops, so they agree closely.
    torch.testing.assert_close(logits, ref, atol=0.05, rtol=0.02)


def test_dtype_choice_and_bad_models(tiny_model):
    assert resolve_dtype("float32", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) in (torch.float32, torch.bfloat16)
    model, _ = tiny_model

    class NotLlama:
        config = type("C", (), {"model_type": "gpt2"})()

    with pytest.raises(UserError, match="'gpt2' model; supported architectures: llama"):
        LeanLlama(NotLlama())
    with pytest.raises(UserError, match="dtype"):
        _ = Decoder(DecodeConfig(model="tiny-llama", engine="hf", dtype="bfloat16",
                                 device="cpu"), model, None).engine


def test_dynamic_tree_from_measured_cost(tiny_model, tiny_heads_path):
    model, tok = tiny_model
    decoder = Decoder(DecodeConfig(model="tiny-llama", heads=str(tiny_heads_path), tree_size=0,
                                   device="cpu"), model, tok)
    cost = decoder.verify_cost()
    assert cost[1] == 1.0 and set(cost) >= {1, 8, 16}
    prompt = chat_prompts(tok, 1)[0]
    ref = decoder.generate(prompt, "greedy", max_tokens=12).tokens
    assert decoder.generate(prompt, "hybrid", max_tokens=12).tokens == ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_batch_invariance_bit_for_bit(tiny_model, real_model, dtype):
    """What makes every method's greedy output plain greedy's by construction, in float32 and
    in bf16 alike: no row depends on the others in its forward (see lean.py)."""
    from medusa_decoder.lean import batch_invariance_check

    tok = real_model[1]
    assert batch_invariance_check(LeanLlama(tiny_model[0], dtype))
    assert batch_invariance_check(LeanLlama(real_model[0], dtype),
                                  tok("The quick brown fox. " * 6)["input_ids"])
    assert batch_invariance_check(LeanLlama(real_model[0], dtype, num_layers=8))  # the draft


@pytest.mark.parametrize("kind, extra, words", [
    ("qwen2", {}, "'qwen2' model; supported architectures: llama"),
    ("mistral", {"sliding_window": 16}, "'mistral' model"),
    ("llama", {"attention_bias": True}, "attention_bias=true"),
    ("llama", {"sliding_window": 16}, "sliding_window=16"),
])
def test_biases_and_sliding_windows_are_refused(kind, extra, words):
    """Qwen2's q/k/v biases or a sliding window would decode silently wrong on the lean engine."""
    import transformers

    config = getattr(transformers, {"llama": "LlamaConfig", "qwen2": "Qwen2Config",
                                    "mistral": "MistralConfig"}[kind])(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2)
    for key, value in extra.items():
        setattr(config, key, value)
    model = transformers.AutoModelForCausalLM.from_config(config)
    with pytest.raises(UserError, match="use --engine hf") as exc:
        LeanLlama(model)
    assert words in str(exc.value)
