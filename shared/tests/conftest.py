import pytest
from llm_shared import load_causal_lm


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded model (converted once into the cache, then ~1 s per load)."""
    return load_causal_lm("smollm2-135m-instruct", device="cpu")
