import pytest
from llm_shared import load_causal_lm, torch_threads


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    torch_threads(1)
    return load_causal_lm("tiny-llama", device="cpu")


@pytest.fixture(scope="session")
def smollm2():
    """The embedded SmolLM2-135M-Instruct (about a second to load once cached)."""
    torch_threads(1)
    return load_causal_lm("smollm2-135m-instruct", device="cpu")
