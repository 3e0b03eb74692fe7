"""Shared fixtures: the tiny random Llama (ms per forward), the real SmolLM2, tiny trained heads,
and a small-vocabulary target/draft pair for the sampling test."""

import pytest
import torch
from llm_shared import load_causal_lm, torch_threads

# NOTE: one thread measured ~2.5x faster per token than two on the shared 2-core machine
# (OpenMP barriers stall when the other core is busy); the tests' results do not depend on it.
torch_threads(1)


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    return load_causal_lm("tiny-llama", device="cpu")


@pytest.fixture(scope="session")
def real_model():
    """The embedded SmolLM2-135M-Instruct (float32, CPU)."""
    return load_causal_lm(device="cpu")


@pytest.fixture(scope="session")
def tiny_heads_path(tiny_model, tmp_path_factory):
    """Heads (K=3, exit block on layer 1) trained for tiny-llama in a few steps."""
    from medusa_decoder import TrainHeadsConfig, train_heads

    out = tmp_path_factory.mktemp("tiny-heads")
    model, tok = tiny_model
    train_heads(TrainHeadsConfig(model="tiny-llama", output=str(out), num_prompts=4,
                                 gen_tokens=12, steps=6, batch_size=32, draft_layers=1,
                                 num_heads=3,
                                 device="cpu"), model, tok)
    return out / "heads.safetensors"


@pytest.fixture(scope="session")
def small_vocab_llama():
    return _small_vocab_llama


def _small_vocab_llama(seed: int, vocab: int = 4):
    """A 1-layer Llama over `vocab` tokens: its exact sequence distribution is enumerable."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab, hidden_size=16,  # tiny: the test needs many samples
                         intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=64,
                         tie_word_embeddings=False, bos_token_id=0, eos_token_id=None,
                         pad_token_id=0)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(25.0)  # sharpen the random logits so p and q differ visibly
    model.generation_config = GenerationConfig(eos_token_id=None, pad_token_id=0)
    return model.eval()
