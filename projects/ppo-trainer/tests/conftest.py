"""Fixtures: the tiny random Llama (milliseconds per forward), fixed loss tensors, and a stand-in
`self` that lets TRL's own GRPOTrainer._compute_loss / RewardTrainer.compute_loss run on fixed
tensors without building a trainer (they only read the attributes set here)."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from llm_shared import load_causal_lm, torch_threads

# NOTE: one thread: on the shared 2-core machine two threads were up to 10x slower when the
# other core was busy (OpenMP threads wait on each other); the trainer defaults to one thread.
torch_threads(1)


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    return load_causal_lm("tiny-llama", device="cpu")


@pytest.fixture(scope="session")
def real_model():
    """The embedded SmolLM2-135M-Instruct (about a second to load once cached)."""
    return load_causal_lm("smollm2-135m-instruct", device="cpu")


class _Accelerator:
    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def _trl_grpo_self(per_token_logps, entropies, *, beta, loss_type="grpo", epsilon=0.2,
                  epsilon_high=None, entropy_coef=0.0):
    """The attributes GRPOTrainer._compute_loss reads; the log-probs come from our tensors."""
    return SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (per_token_logps, entropies, None),
        aux_loss_enabled=False, top_entropy_quantile=1.0, off_policy_mask_threshold=None,
        importance_sampling_level="token", beta=beta, loss_type=loss_type, epsilon_low=epsilon,
        epsilon_high=epsilon if epsilon_high is None else epsilon_high, use_vllm=False,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None),
        model=SimpleNamespace(training=True), current_gradient_accumulation_steps=1,
        _entropy_bonus_enabled=entropy_coef != 0.0, entropy_coef=entropy_coef,
        use_adaptive_entropy=False, accelerator=_Accelerator(), max_completion_length=None,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )


def _trl_reward_self():
    return SimpleNamespace(model=SimpleNamespace(training=False), accelerator=_Accelerator(),
                           args=SimpleNamespace(center_rewards_coefficient=None),
                           _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
                           _total_train_tokens=0, _tp_size=1)


@pytest.fixture
def require():
    """`require("trl")`: import a reference library, or skip the test that needs it; under `CI`
    a missing one fails instead, so a broken environment cannot pass as green."""
    import importlib
    import os

    def load(module: str):
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
                pytest.fail(f"{module} is required under CI and did not import: {exc}")
            pytest.skip(f"could not import {module}: {exc}")

    return load


@pytest.fixture
def trl_grpo_self(require):
    require("trl")
    return _trl_grpo_self


@pytest.fixture
def trl_reward_self(require):
    require("trl")
    return _trl_reward_self


@pytest.fixture
def fixed_batch():
    """Two sequences of 3 response tokens, the second padded after 2 (hand-checkable numbers)."""
    return SimpleNamespace(
        logp=torch.tensor([[-1.0, -0.5, -2.0], [-0.2, -1.5, -3.0]]),
        old_logp=torch.tensor([[-1.2, -0.5, -1.5], [-0.4, -1.0, -3.0]]),
        ref_logp=torch.tensor([[-1.1, -0.7, -2.0], [-0.2, -1.2, -9.0]]),
        mask=torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
    )
