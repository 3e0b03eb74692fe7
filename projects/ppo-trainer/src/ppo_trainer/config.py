"""Settings of ppo-trainer; each field's help is the reference and becomes a CLI flag.

Precedence: defaults -> `--config file.toml` -> flags. `TrainConfig` drives `train` for all three
algorithms (fields that one algorithm ignores say so), `RewardModelConfig` drives `train-rm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_shared import EMBEDDED_LLM, UserError, param

ALGOS = ("ppo", "grpo", "rloo")


@dataclass
class TrainConfig:
    algo: str = param("grpo", help="ppo (value head + GAE), grpo (group-normalised advantages) or "
                      "rloo (leave-one-out baseline)", choices=ALGOS)
    output: Path | None = param(None, help="run directory: metrics.jsonl, checkpoint/, "
                                "curves.png (required for train)")
    model: str = param(EMBEDDED_LLM, help="policy: embedded name, local directory or HF id")
    steps: int = param(20, help="optimisation steps (one rollout batch each)")
    # NOTE: the defaults below (2 prompts x 4 samples, 10 tokens, top 6 layers, lr 1.5e-4) are the
    # demo's: on 2 shared CPU cores they raised the held-out reward within 4-5 steps (README).
    prompts_per_step: int = param(2, help="distinct prompts per step")
    group_size: int = param(4, help="completions per prompt; >= 2 for grpo/rloo, usually 1 for ppo")
    max_new_tokens: int = param(10, help="response length limit in tokens")
    max_prompt_tokens: int = param(256, help="longer prompts are an error, not silently cut")
    temperature: float = param(1.0, help="sampling temperature of the rollouts")
    top_p: float = param(1.0, help="nucleus sampling cut of the rollouts")
    lr: float = param(1.5e-4, help="AdamW learning rate (use ~2e-5 for full fine-tuning)")
    trainable_layers: int = param(6, help="train only the top N decoder layers + final norm "
                                  "(0 or >= depth: full fine-tuning); cuts backward time on a CPU")
    max_grad_norm: float = param(1.0, help="gradient clipping norm")
    ppo_epochs: int = param(1, help="passes over each rollout batch (TRL's num_iterations)")
    num_minibatches: int = param(1, help="minibatches per epoch (one optimizer step each)")
    clip_range: float = param(0.2, help="policy ratio clip epsilon")
    clip_range_high: float | None = param(None, help="upper clip (DAPO clip-higher); default = "
                                          "--clip-range")
    kl_coef: float = param(0.04, help="beta: KL penalty weight (0 disables the reference model)")
    kl_estimator: str = param("k3", help="per-token KL estimator (ppo: in the reward; grpo/rloo: "
                              "in the loss)", choices=("k1", "k2", "k3"))
    adaptive_kl: bool = param(False, help="ppo: adapt beta towards --target-kl (Ziegler et al.)")
    target_kl: float = param(0.1, help="ppo with --adaptive-kl: target KL per sequence")
    kl_horizon: int = param(10000, help="ppo with --adaptive-kl: horizon of the controller")
    gamma: float = param(1.0, help="ppo: discount")
    lam: float = param(0.95, help="ppo: GAE lambda")
    whiten_advantages: bool = param(True, help="ppo: whiten GAE advantages over the batch")
    vf_coef: float = param(0.1, help="ppo: value loss weight")
    clip_range_value: float = param(0.2, help="ppo: value clip range")
    entropy_coef: float = param(0.0, help="entropy bonus weight (loss -= coef * mean entropy)")
    scale_rewards: str = param("group", help="grpo: divide by the group std, the batch std or not",
                               choices=("group", "batch", "none"))
    loss_aggregation: str = param("sequence", help="grpo/rloo: 'sequence' (mean per sequence, the "
                                  "GRPO paper) or 'token' (mean over all tokens)",
                                  choices=("sequence", "token"))
    rewards: list[str] = param(["correct", "format"], help="reward functions: correct, format or "
                               "package.module:function")
    reward_weights: list[float] = param([1.0, 0.5], help="one weight per reward function")
    reward_model: Path | None = param(None, help="directory from `train-rm`; its score is added "
                                      "to the rule rewards (use --rewards none for RM only)")
    max_skipped: int = param(5, help="stop with an error after this many consecutive steps "
                             "skipped for a failing reward function")
    eval_prompts: int = param(8, help="held-out prompts scored at start and end (0: off)")
    eval_samples: int = param(2, help="completions per held-out prompt (seeded sampling)")
    eval_temperature: float = param(1.0, help="sampling temperature of the held-out evaluation "
                                    "(0: greedy)")
    save_every: int = param(10, help="write a checkpoint every N steps (and at the end)")
    checkpoint: bool = param(True, help="write checkpoints (--no-checkpoint for throwaway runs)")
    resume: bool = param(False, help="continue from OUTPUT/checkpoint to the same result")
    seed: int = param(0, help="seed of prompts, sampling and the value head")
    threads: int = param(1, help="CPU threads for torch (0: torch's default)")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.rewards == ["none"]:
            self.rewards, self.reward_weights = [], []
        checks = [
            (self.steps > 0, f"--steps must be > 0 (got {self.steps})"),
            (self.prompts_per_step > 0, "--prompts-per-step must be > 0"),
            (self.group_size > 0, f"--group-size must be > 0 (got {self.group_size})"),
            (self.algo == "ppo" or self.group_size >= 2,
             f"--algo {self.algo} needs --group-size >= 2 (got {self.group_size}): advantages "
             "compare completions of the same prompt; use --algo ppo for single samples"),
            (self.max_new_tokens > 0, "--max-new-tokens must be > 0"),
            (self.temperature > 0, "--temperature must be > 0 for sampled rollouts"),
            (0 < self.top_p <= 1, "--top-p must be in (0, 1]"),
            (self.lr > 0, "--lr must be > 0"),
            (self.ppo_epochs > 0, "--ppo-epochs must be > 0"),
            (self.num_minibatches > 0, "--num-minibatches must be > 0"),
            ((self.prompts_per_step * self.group_size) % self.num_minibatches == 0,
             "--num-minibatches must divide prompts-per-step * group-size"),
            (self.algo != "ppo" or self.num_minibatches <= self.prompts_per_step * self.group_size,
             "more minibatches than sequences"),
            (self.kl_coef >= 0, "--kl-coef must be >= 0"),
            (self.clip_range > 0, "--clip-range must be > 0"),
            (len(self.rewards) == len(self.reward_weights),
             f"--rewards has {len(self.rewards)} names but --reward-weights "
             f"{len(self.reward_weights)} values; give one weight per reward"),
            (bool(self.rewards) or self.reward_model is not None,
             "no reward: give --rewards or --reward-model"),
            (self.save_every > 0, "--save-every must be > 0"),
            (self.max_skipped > 0, "--max-skipped must be > 0"),
            (self.threads >= 0, "--threads must be >= 0"),
            (self.trainable_layers >= 0, "--trainable-layers must be >= 0"),
            (self.eval_samples > 0 and self.eval_temperature >= 0,
             "--eval-samples must be > 0 and --eval-temperature >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


@dataclass
class RewardModelConfig:
    output: Path | None = param(None, help="directory for the reward model (required)")
    model: str = param(EMBEDDED_LLM, help="backbone: embedded name, local directory or HF id")
    pairs: Path | None = param(None, help="JSONL of {prompt, chosen, rejected}; default: "
                               "preference pairs built from the arithmetic task")
    num_pairs: int = param(96, help="task pairs to build when --pairs is not given")
    eval_fraction: float = param(0.25, help="share of pairs held out for accuracy")
    epochs: int = param(1, help="passes over the training pairs")
    batch_size: int = param(8, help="pairs per optimizer step")
    lr: float = param(5e-5, help="AdamW learning rate")
    trainable_layers: int = param(2, help="top decoder layers trained with the head (0: all)")
    max_tokens: int = param(256, help="longer prompt+response pairs are an error")
    seed: int = param(0, help="seed of the pairs, the head and the order")
    threads: int = param(1, help="CPU threads for torch (0: torch's default)")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size <= 0 or self.num_pairs < 4:
            raise UserError("--epochs and --batch-size must be > 0 and --num-pairs >= 4")
        if not 0 < self.eval_fraction < 1:
            raise UserError(f"--eval-fraction must be in (0, 1) (got {self.eval_fraction})")


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    steps: int = param(4, help="GRPO steps")
    output: Path | None = param(None, help="keep the run directory here (default: a temp dir)")
    threads: int = param(1, help="CPU threads for torch (0: torch's default)")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise UserError(f"--steps must be > 0 (got {self.steps})")
