"""Shared fixtures: the tiny random Llama (milliseconds per forward), engines, a running server."""

import pytest
import torch
from llm_shared import load_causal_lm, torch_threads
from paged_kv_server import EngineConfig, LLMEngine, SamplingParams, Sequence

# One intra-op thread: on this shared 2-core machine two OpenMP threads spin-wait on each other
# (a tiny-model forward went from ~2 ms to ~30 ms per op with 2 threads under load).
torch_threads(1)


def _make_seq(n_tokens: int, start: int = 10, **params) -> Sequence:
    """A sequence with prompt ids start..start+n_tokens-1 (distinct prompts: distinct starts)."""
    return Sequence(list(range(start, start + n_tokens)), SamplingParams(**params))


@pytest.fixture
def make_seq():
    return _make_seq


@pytest.fixture(scope="session")
def tiny_hf():
    """HF LlamaForCausalLM of tiny-llama: the reference for our forward pass."""
    return load_causal_lm("tiny-llama", device="cpu", dtype=torch.float32)


def _tiny_engine(**overrides) -> LLMEngine:
    settings = {"model": "tiny-llama", "device": "cpu", "dtype": "float32", "kv_cache_mb": 16,
                "block_size": 4, "max_num_batched_tokens": 64, "max_model_len": 512}
    settings.update(overrides)
    return LLMEngine(EngineConfig(**settings))


@pytest.fixture
def tiny_engine():
    """Factory: a tiny-llama engine with small blocks and budget, so chunking really happens."""
    return _tiny_engine


@pytest.fixture(scope="module")
def tiny_engine_module():
    return _tiny_engine


@pytest.fixture
def engine() -> LLMEngine:
    return _tiny_engine()


@pytest.fixture
def random_prompts():
    return _random_prompts


def _random_prompts(count: int, low: int = 1, high: int = 90, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high, (count,), generator=g).tolist()
    return [torch.randint(3, 49000, (n,), generator=g).tolist() for n in lengths]
