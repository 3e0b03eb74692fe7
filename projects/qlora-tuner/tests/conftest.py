"""Fixtures: fresh tiny models (random 2-layer Llama with SmolLM2's tokenizer, milliseconds per
forward) for code paths, and the real SmolLM2-135M-Instruct for the tests the chapter is about."""

import json

import pytest
import torch
from llm_shared import load_causal_lm


@pytest.fixture
def tiny():
    """A fresh (model, tokenizer) per test: tests wrap and quantise the model in place."""
    return load_causal_lm("tiny-llama", device="cpu")


@pytest.fixture
def make_tiny():
    return lambda: load_causal_lm("tiny-llama", device="cpu")[0]


@pytest.fixture(scope="session")
def smollm():
    return load_causal_lm("smollm2-135m-instruct", device="cpu")


@pytest.fixture
def chat_file(tmp_path):
    """A small chat JSONL of the embedded task."""
    from qlora_tuner.task import make_task

    train, _ = make_task(24, 4, seed=1)
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in train))
    return path


def randomize_lora(model, seed=0):
    """Give every LoRA B a non-zero value so adapters change the output (B starts at 0)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data = torch.randn(p.shape, generator=g) * 0.1


@pytest.fixture
def randomize():
    return randomize_lora
