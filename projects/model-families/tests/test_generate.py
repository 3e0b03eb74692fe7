"""Our KV-cache generation loop equals transformers' generate, greedy and seeded sampling."""

from __future__ import annotations

import math

import pytest
import torch
from model_families.families import load
from model_families.generate import Sampling, filter_logits, generate
from model_families.tasks import hf_generate

PROMPT = torch.tensor([[5, 17, 99, 42, 7, 8]])


@pytest.mark.parametrize("name", ["gpt2", "llama", "llama-untied", "t5", "t5-v1_1"])
def test_greedy_equals_hf_generate(tiny_dir, name):
    loaded = load(tiny_dir[name])
    ours = generate(loaded.model, PROMPT, 16)  # no eos: all 16 tokens
    assert len(ours) == 16
    assert ours == hf_generate(loaded, PROMPT, 16, Sampling(), seed=0)[:16]


@pytest.mark.parametrize("name", ["gpt2", "t5-v1_1"])
@pytest.mark.parametrize("sampling", [Sampling(0.8, 20, 0.9), Sampling(1.5, 0, 0.6)])
def test_seeded_sampling_equals_hf_generate(tiny_dir, name, sampling):
    loaded = load(tiny_dir[name])
    torch.manual_seed(7)
    ours = generate(loaded.model, PROMPT, 12, sampling=sampling)
    assert ours == hf_generate(loaded, PROMPT, 12, sampling, seed=7)[:12]


def test_kv_cache_equals_recomputing_the_whole_sequence(tiny_dir):
    model = load(tiny_dir["llama-untied"]).model
    cached = generate(model, PROMPT, 10)
    ids = PROMPT
    with torch.inference_mode():
        for _ in range(10):  # no cache: the full sequence every step
            logits, _ = model(ids)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert cached == ids[0, PROMPT.shape[1]:].tolist()


def test_stops_after_eos(tiny_dir):
    model = load(tiny_dir["gpt2"]).model
    free = generate(model, PROMPT, 10)
    assert generate(model, PROMPT, 10, eos_id=free[0]) == free[:1]  # the eos is kept, then stop
    unused = [t for t in range(320) if t not in free][:2]
    assert generate(model, PROMPT, 10, eos_id=unused) == free


def test_filter_logits_worked_example():
    logits = torch.tensor([[math.log(0.6), math.log(0.3), math.log(0.1)]])
    kept = lambda s: torch.isfinite(filter_logits(logits, s))[0].tolist()  # noqa: E731
    assert kept(Sampling(1.0, 0, 0.5)) == [True, False, False]
    assert kept(Sampling(1.0, 0, 0.8)) == [True, True, False]
    assert kept(Sampling(1.0, 2, 1.0)) == [True, True, False]
    assert kept(Sampling(1.0, 0, 1.0)) == [True, True, True]
