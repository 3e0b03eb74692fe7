"""Tiny fixtures: model configs and training runs shrunk until a run takes well under a second."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformer_core.config import ModelConfig, TrainConfig


def tiny_model_config(**overrides) -> ModelConfig:
    values = dict(vocab_size=14,  # the tasks' vocabulary
                  d_model=16,  # 4 heads of 4 dims: enough for every code path
                  num_heads=4, num_layers=2,  # 2 layers: the cache must carry across layers
                  dim_ff=32, max_len=32)
    values.update(overrides)
    return ModelConfig(**values)


def tiny_train_config(output: Path, **overrides) -> TrainConfig:
    values = dict(task="reverse", output=output, length=4,  # short inputs: fast steps
                  d_model=16, num_heads=2, num_layers=1, dim_ff=32,  # a toy model
                  batch_size=8, eval_size=20, steps=6, checkpoint_every=3)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def make_model_config():
    return tiny_model_config


@pytest.fixture
def make_train_config():
    return tiny_train_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A reverse run of a few steps (weights barely trained; for format and error paths)."""
    from transformer_core.train import train

    out = tmp_path_factory.mktemp("runs") / "rev"
    torch.manual_seed(0)
    train(tiny_train_config(out))
    return out
