"""Shared fixtures: the tiny random Llama (ms per forward), the real SmolLM2, and a
small-vocabulary Llama whose next-token distribution is peaked enough for a chi-square test."""

import pytest
import torch
from llm_shared import load_causal_lm

# NOTE: one thread is faster per token on the shared 2-core machine; results do not depend on it.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny():
    """Engine over the random-weight Llama with SmolLM2's tokenizer."""
    from llm_explorer import Engine

    return Engine(*load_causal_lm("tiny-llama", device="cpu"))


@pytest.fixture(scope="session")
def real():
    """Engine over the embedded SmolLM2-135M-Instruct (float32, CPU)."""
    from llm_explorer import Engine

    return Engine(*load_causal_lm(device="cpu"))


@pytest.fixture(scope="session")
def small_vocab_model():
    """A 1-layer Llama over 12 tokens with sharpened logits: HF can sample it thousands of
    times in one batched call, and every category gets enough counts for chi-square."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=12, hidden_size=16, intermediate_size=32,  # tiny on purpose
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=64, tie_word_embeddings=False,
                         bos_token_id=0, eos_token_id=None, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(12.0)  # spread the logits so the stages cut visibly
    model.generation_config = GenerationConfig(eos_token_id=None, pad_token_id=0)
    return model.eval()
