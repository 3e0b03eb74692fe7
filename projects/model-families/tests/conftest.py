"""Tiny random checkpoints of every family, saved once per session with transformers, and the
helpers that run a folder through our code and through transformers."""

from __future__ import annotations

import functools

import pytest
import torch
from model_families.compare import fixed_inputs, max_diffs, run_hf, run_ours
from model_families.families import load, load_hf
from model_families.tiny import TINY, save_tiny


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """name -> folder for every tiny config in model_families.tiny.TINY."""
    root = tmp_path_factory.mktemp("tiny")
    return {name: save_tiny(name, root / name) for name in TINY}


@pytest.fixture
def save(tmp_path):
    """save(name, **config_overrides) -> a fresh folder with that tiny model."""
    counter = iter(range(1000))
    return lambda name, **overrides: save_tiny(name, tmp_path / f"{name}-{next(counter)}",
                                               **overrides)


@functools.cache
def _hf(folder, family):
    """Each folder in transformers once per session: tests mutate our models, never HF's."""
    return load_hf(folder, family)


def diffs(folder, loaded=None):
    """(max |logit diff|, max |hidden diff|) of our model vs transformers on the fixed inputs."""
    loaded = loaded or load(folder)
    hf = _hf(loaded.folder, loaded.family)
    inputs = fixed_inputs(loaded)
    return max_diffs(run_ours(loaded, inputs), run_hf(hf, loaded.family, inputs))


@pytest.fixture(scope="session")
def diff_of():
    return diffs


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
