"""Slow tier (`pytest -m slow`): GRPO on the embedded task with the real SmolLM2 raises the
held-out reward (seeded; the demo's settings, a few minutes on 2 CPU cores)."""

import pytest
from ppo_trainer.config import TrainConfig
from ppo_trainer.trainer import train


@pytest.mark.slow
def test_grpo_raises_reward_on_the_embedded_task(tmp_path):
    summary = train(TrainConfig(algo="grpo", output=tmp_path, steps=5, checkpoint=False,
                                device="cpu"), log=lambda m: None)
    before, after = summary["eval_before"]["reward"], summary["eval_after"]["reward"]
    assert after >= before + 0.1, (before, after)
    assert summary["eval_after"]["format_rate"] > summary["eval_before"]["format_rate"]
