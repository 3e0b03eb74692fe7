"""ppo-trainer: PPO, GRPO and RLOO for language models, every loss term readable and tested.

Public API: the loss functions (`losses`), `TrainConfig`/`Trainer`/`train`, `RewardModel`,
`train_reward_model`, rule rewards (`parse_answer`, `correct_reward`, `format_reward`), the
`Generator` seam (`HFGenerator`), `ArithmeticTask`, `plot_run`, `run_demo`.
"""

from .config import DemoConfig, RewardModelConfig, TrainConfig
from .demo import run_demo
from .losses import (
    bradley_terry_loss,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    grpo_advantages,
    kl_penalty,
    masked_whiten,
    rloo_advantages,
)
from .plot import plot_run
from .reward_model import RewardModel
from .rewards import correct_reward, format_reward, parse_answer
from .rollout import Generator, HFGenerator
from .task import ArithmeticTask
from .train_rm import train_reward_model
from .trainer import Trainer, train

__all__ = [
    "ArithmeticTask", "DemoConfig", "Generator", "HFGenerator", "RewardModel", "RewardModelConfig",
    "TrainConfig", "Trainer", "bradley_terry_loss", "clipped_policy_loss", "clipped_value_loss",
    "compute_gae", "correct_reward", "format_reward", "grpo_advantages", "kl_penalty",
    "masked_whiten", "parse_answer", "plot_run", "rloo_advantages", "run_demo", "train",
    "train_reward_model",
]
