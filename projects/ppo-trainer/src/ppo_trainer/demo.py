"""The chapter demo: a few GRPO steps on the embedded arithmetic task, reward before and after.

SmolLM2-135M-Instruct answers `What is a + b?` and is rewarded 1 for the right number inside
<answer></answer> and 0.5 for the exact tag format. Two seeded samples (temperature 1, as in
training) on each of 8 held-out prompts measure the reward before and after the GRPO steps.
Leaves out checkpoints (a throwaway run). Run: `uv run ppo-trainer demo` (target: under 90 s on 2
CPU cores; see the README for what was measured on the shared machine).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from .config import DemoConfig, TrainConfig
from .trainer import train

# NOTE: lr, group shape and steps chosen by probing on 2 shared CPU cores: the smallest run whose
# held-out reward (seeded samples) rises clearly within the 90 s budget.
DEMO_SETTINGS = dict(algo="grpo", prompts_per_step=2, group_size=4, max_new_tokens=10, lr=1.5e-4,
                     trainable_layers=6, kl_coef=0.04, eval_prompts=8, eval_samples=2,
                     checkpoint=False)  # the TrainConfig defaults, spelled out


def demo_train_config(config: DemoConfig, output: Path) -> TrainConfig:
    return TrainConfig(model=config.model, steps=config.steps, output=output,
                       threads=config.threads, device=config.device, **DEMO_SETTINGS)


def run_demo(config: DemoConfig, log: Any = None) -> dict[str, Any]:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ppo-trainer-demo-") as tmp:
        output = config.output or Path(tmp)
        summary = train(demo_train_config(config, output), log=log)
    before, after = summary["eval_before"], summary["eval_after"]
    return {
        "algo": "grpo", "steps": summary["steps"],
        "reward_before": round(before["reward"], 4), "reward_after": round(after["reward"], 4),
        "accuracy_before": round(before["accuracy"], 4),
        "accuracy_after": round(after["accuracy"], 4),
        "format_rate_before": round(before["format_rate"], 4),
        "format_rate_after": round(after["format_rate"], 4),
        "rollout_reward_first_step": round(summary["reward_first_step"], 4),
        "rollout_reward_last_step": round(summary["reward_last_step"], 4),
        "sample_before": before["sample"], "sample_after": after["sample"],
        "seconds": round(time.perf_counter() - start, 1),
    }
