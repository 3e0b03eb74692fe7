"""The training loop shared by PPO, GRPO and RLOO: rollout, reward, update, log, checkpoint.

Per step: the task gives prompts (seeded by step), the generator samples `group_size` completions
each, reward functions score them (a failing function skips the step and is counted), then
`ppo_update` or `grpo_update` runs, and one JSON line goes to OUTPUT/metrics.jsonl. Checkpoints
(OUTPUT/checkpoint: policy as a save_pretrained folder, value head, optimizer, RNG, counters) are
written atomically; `--resume` restores them all so a resumed run reaches the same weights as an
uninterrupted one. Leaves out multi-GPU, LoRA and learning-rate schedules.
Run: `ppo-trainer train --algo grpo --output runs/grpo`.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from llm_shared import (
    UserError,
    atomic_dir,
    atomic_write,
    load_causal_lm,
    load_torch_state,
    seed_everything,
    torch_threads,
)

from .config import TrainConfig
from .evaluate import evaluate
from .grpo import grpo_update
from .kl_control import make_kl_controller
from .policy import ValueHead
from .ppo import ppo_update
from .reward_model import RewardModel
from .rewards import RewardError, resolve_reward, score
from .rollout import HFGenerator, make_rollout
from .task import ArithmeticTask


class Trainer:
    """Holds the models, optimizer and counters; `run()` trains to `config.steps`."""

    def __init__(self, config: TrainConfig, *, log: Any = None) -> None:
        if config.output is None:
            raise UserError("train needs --output DIR for metrics and checkpoints")
        self.config = config
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        torch_threads(config.threads)
        seed_everything(config.seed)
        self.reward_fns = [resolve_reward(name) for name in config.rewards]
        self.policy, self.tokenizer = load_causal_lm(config.model, device=config.device)
        self.device = self.policy.device
        context = getattr(self.policy.config, "max_position_embeddings", None)
        if context is not None and config.max_prompt_tokens + config.max_new_tokens > context:
            raise UserError(f"--max-prompt-tokens {config.max_prompt_tokens} + --max-new-tokens "
                            f"{config.max_new_tokens} exceed the model's context of {context} "
                            "tokens; lower one of them")
        self.ref = None
        if config.kl_coef > 0:
            self.ref = copy.deepcopy(self.policy).eval()  # frozen copy of the initial policy
            self.ref.requires_grad_(False)
        self.value_head = None
        freeze_below(self.policy, config.trainable_layers)
        params = [p for p in self.policy.parameters() if p.requires_grad]
        if config.algo == "ppo":
            self.value_head = ValueHead(self.policy.config.hidden_size).to(self.device)
            params += list(self.value_head.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
        self.kl_ctl = make_kl_controller(config.kl_coef, config.adaptive_kl, config.target_kl,
                                         config.kl_horizon)
        self.reward_model = (RewardModel.load(config.reward_model, self.device)
                             if config.reward_model else None)
        self.generator = HFGenerator(self.policy, self.tokenizer.eos_token_id,
                                     self.tokenizer.pad_token_id)
        self.task = ArithmeticTask(seed=config.seed)
        self.step = 0
        self.skipped = 0
        self.consecutive_skipped = 0
        self.eval_before: dict[str, float] | None = None

    @property
    def output(self) -> Path:
        assert self.config.output is not None
        return self.config.output

    # ---- rewards ---------------------------------------------------------------------------
    def rewards(self, messages: list, completions: list[str],
                answers: list) -> tuple[torch.Tensor, dict[str, float]]:
        """Rule rewards (+ reward-model score); RewardError propagates to the loop."""
        totals, parts = score(self.reward_fns, self.config.reward_weights, completions, answers)
        rewards = torch.tensor(totals, dtype=torch.float32)  # (N,)
        if self.reward_model is not None:
            rm = self.reward_model.score(messages, completions)  # (N,)
            parts["reward_model"] = rm.mean().item()
            rewards = rewards + rm
        return rewards.to(self.device), parts

    def evaluate(self) -> dict[str, float]:
        if not self.config.eval_prompts:
            return {}
        config = self.config
        return evaluate(self.policy, self.tokenizer, self.task.eval_set(config.eval_prompts),
                        self.reward_fns, config.reward_weights, config.max_new_tokens,
                        config.max_prompt_tokens, self.device, samples=config.eval_samples,
                        temperature=config.eval_temperature, seed=config.seed)

    # ---- one step --------------------------------------------------------------------------
    def train_step(self) -> dict[str, Any]:
        config = self.config
        start = time.perf_counter()
        problems = self.task.batch(self.step, config.prompts_per_step)
        messages = [p.messages for p in problems]
        rollout = make_rollout(self.generator, self.tokenizer, messages,
                               [p.answer for p in problems], group_size=config.group_size,
                               max_prompt_tokens=config.max_prompt_tokens,
                               max_new_tokens=config.max_new_tokens,
                               temperature=config.temperature, top_p=config.top_p,
                               device=self.device)
        generate_s = time.perf_counter() - start
        self.step += 1
        record: dict[str, Any] = {"step": self.step}
        try:
            rewards, parts = self.rewards([m for m in messages for _ in range(config.group_size)],
                                          rollout.completions, rollout.answers)
        except RewardError as exc:
            self.skipped += 1
            self.consecutive_skipped += 1
            self.log(f"step {self.step}: skipped ({exc})")
            if self.consecutive_skipped >= config.max_skipped:
                raise UserError(f"{self.consecutive_skipped} steps in a row skipped because a "
                                f"reward function failed (last: {exc}); fix the reward "
                                "function") from exc
            record.update(skipped=True, error=str(exc), skipped_total=self.skipped)
            return record
        self.consecutive_skipped = 0
        if config.algo == "ppo":
            assert self.value_head is not None
            stats = ppo_update(config, self.policy, self.value_head, self.ref, self.optimizer,
                               rollout, rewards, self.kl_ctl)
        else:
            stats = grpo_update(config, self.policy, self.ref, self.optimizer, rollout, rewards)
        lengths = rollout.response_mask.sum(1).float()
        record.update(reward_mean=rewards.mean().item(), reward_std=rewards.std().item(),
                      **{f"reward/{k}": v for k, v in parts.items()}, **stats,
                      response_length=lengths.mean().item(), skipped_total=self.skipped,
                      generate_seconds=generate_s, step_seconds=time.perf_counter() - start,
                      sample=rollout.completions[0])
        return record

    # ---- checkpoints -------------------------------------------------------------------------
    def save(self) -> None:
        with atomic_dir(self.output / "checkpoint") as tmp:
            self.policy.save_pretrained(tmp / "policy")
            self.tokenizer.save_pretrained(tmp / "policy")
            if self.value_head is not None:
                torch.save(self.value_head.state_dict(), tmp / "value_head.pt")
            torch.save({"optimizer": self.optimizer.state_dict(),
                        "torch_rng": torch.get_rng_state()}, tmp / "trainer.pt")
            with atomic_write(tmp / "state.json") as handle:
                json.dump({"step": self.step, "skipped": self.skipped,
                           "consecutive_skipped": self.consecutive_skipped,
                           "kl_coef": self.kl_ctl.value, "eval_before": self.eval_before,
                           "config": {k: str(v) for k, v in asdict(self.config).items()}},
                          handle, indent=2)

    def load(self) -> None:
        from safetensors.torch import load_file

        directory = self.output / "checkpoint"
        if not (directory / "state.json").is_file():
            raise UserError(f"--resume: no checkpoint in {directory}; run without --resume first")
        state = json.loads((directory / "state.json").read_text())
        weights = load_file(str(directory / "policy" / "model.safetensors"))
        missing, _ = self.policy.load_state_dict(weights, strict=False)
        if [k for k in missing if "lm_head" not in k]:  # tied lm_head is not stored
            raise UserError(f"--resume: checkpoint does not match --model {self.config.model}")
        self.policy.tie_weights()
        # Tensors, numbers and containers only: a checkpoint someone hands over cannot run code.
        if self.value_head is not None:
            self.value_head.load_state_dict(load_torch_state(directory / "value_head.pt"))
        extra = load_torch_state(directory / "trainer.pt")
        self.optimizer.load_state_dict(extra["optimizer"])
        torch.set_rng_state(extra["torch_rng"])
        self.step, self.skipped = state["step"], state["skipped"]
        self.consecutive_skipped = state["consecutive_skipped"]
        self.kl_ctl.value = state["kl_coef"]
        self.eval_before = state["eval_before"]

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        config = self.config
        metrics = self.output / "metrics.jsonl"
        if config.resume:
            self.load()
            kept = [line for line in metrics.read_text().splitlines()
                    if line and json.loads(line)["step"] <= self.step] if metrics.exists() else []
            with atomic_write(metrics) as handle:
                handle.write("".join(line + "\n" for line in kept))
            self.log(f"resumed at step {self.step}")
        else:
            self.output.mkdir(parents=True, exist_ok=True)
            metrics.write_text("")
            self.eval_before = self.evaluate()
        with open(metrics, "a", encoding="utf-8") as sink:
            while self.step < config.steps:
                record = self.train_step()
                sink.write(json.dumps(record) + "\n")
                sink.flush()
                if "reward_mean" in record:
                    self.log(f"step {record['step']}/{config.steps} reward "
                             f"{record['reward_mean']:.3f} kl {record.get('kl', 0.0):.4f} "
                             f"{record['step_seconds']:.1f}s  {record['sample']!r}")
                if config.checkpoint and (self.step % config.save_every == 0
                                          or self.step == config.steps):
                    self.save()
        eval_after = self.evaluate()
        records = [json.loads(line) for line in metrics.read_text().splitlines() if line]
        done = [r for r in records if "reward_mean" in r]
        return {"algo": config.algo, "steps": self.step, "skipped_steps": self.skipped,
                "eval_before": self.eval_before, "eval_after": eval_after,
                "reward_first_step": done[0]["reward_mean"] if done else None,
                "reward_last_step": done[-1]["reward_mean"] if done else None,
                "median_step_seconds": sorted(r["step_seconds"] for r in done)[len(done) // 2]
                if done else None}


def freeze_below(model: Any, trainable_layers: int) -> None:
    """Train only the top `trainable_layers` decoder layers and the final norm (0, or at least the
    model's depth: everything).

    Autograd then records nothing below the first trainable layer, so backward is that much
    shorter; the tied embedding / LM head stays frozen."""
    layers = model.base_model.layers
    if trainable_layers <= 0 or trainable_layers >= len(layers):
        return
    model.requires_grad_(False)
    for module in [*layers[-trainable_layers:], model.base_model.norm]:
        module.requires_grad_(True)


def train(config: TrainConfig, **kwargs: Any) -> dict[str, Any]:
    return Trainer(config, **kwargs).run()
