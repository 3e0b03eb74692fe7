import pytest

from llm_shared import load_causal_lm


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    return load_causal_lm("tiny-llama", device="cpu")
