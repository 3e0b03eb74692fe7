"""`bench`: our GRPO against TRL's GRPOTrainer, step by step, same model, prompts and batch shape.

Both trainers start from the same weights, see the same prompts in the same order (TRL's dataset
is the concatenation of our per-step batches, unshuffled), sample `group_size` completions per
prompt with the same temperature and length limit, use the same rewards, learning rate, clip, KL
weight and loss aggregation (TRL loss_type='grpo'). Steps alternate: a TRL callback runs one of our
steps right after each TRL step, so machine noise hits both. Reported: median seconds per step,
the ratio, the mean rollout reward over the run, and the held-out reward after the last step (seeded
samples at temperature 1, the same evaluation for both).
Leaves out vLLM generation (CPU). Needs `trl` and `datasets` (the project's dev group).
Run: `ppo-trainer bench` or `uv run --package ppo-trainer python bench/bench_grpo_vs_trl.py`.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import (
    EMBEDDED_LLM,
    UserError,
    load_causal_lm,
    markdown_table,
    param,
    peak_rss_mb,
    torch_threads,
)

from .config import TrainConfig
from .evaluate import evaluate
from .rewards import correct_reward, format_reward
from .task import ArithmeticTask
from .trainer import Trainer, freeze_below


@dataclass
class BenchConfig:
    model: str = param(EMBEDDED_LLM, help="model both trainers fine-tune")
    steps: int = param(4, help="optimisation steps of each trainer")
    prompts_per_step: int = param(2, help="distinct prompts per step")
    group_size: int = param(4, help="completions per prompt (TRL num_generations)")
    max_new_tokens: int = param(10, help="completion length limit")
    lr: float = param(2e-5, help="learning rate of both")
    trainable_layers: int = param(0, help="top decoder layers trained by both (0: full "
                                  "fine-tuning, TRL's usual setting)")
    kl_coef: float = param(0.0, help="beta of both (TRL's default 0.0 skips the reference model)")
    eval_prompts: int = param(16, help="held-out prompts scored after training")
    eval_samples: int = param(2, help="seeded samples per held-out prompt (temperature 1)")
    seed: int = param(0, help="seed of prompts and sampling")
    threads: int = param(1, help="CPU threads for torch (0: torch's default)")

    def __post_init__(self) -> None:
        if self.steps < 1 or self.group_size < 2 or self.prompts_per_step < 1:
            raise UserError("--steps >= 1, --group-size >= 2 and --prompts-per-step >= 1 needed")


def _trl_reward(fn: Any) -> Any:
    def reward(completions: list, answer: list, **_: Any) -> list[float]:
        texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
        return fn(texts, answer)

    reward.__name__ = fn.__name__
    return reward


def run_bench(config: BenchConfig, quiet: bool = False) -> dict[str, Any]:
    try:
        from datasets import Dataset
        from transformers import TrainerCallback
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as exc:
        raise UserError(f"bench needs trl and datasets ({exc}); run `uv sync --package "
                        "ppo-trainer` (they are in the dev group)") from exc
    torch_threads(config.threads)
    say = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    tmp = Path(tempfile.mkdtemp(prefix="ppo-trainer-bench-"))
    ours = Trainer(TrainConfig(
        algo="grpo", output=tmp / "ours", model=config.model, steps=config.steps,
        prompts_per_step=config.prompts_per_step, group_size=config.group_size,
        max_new_tokens=config.max_new_tokens, lr=config.lr, kl_coef=config.kl_coef,
        loss_aggregation="sequence", scale_rewards="group", eval_prompts=0, checkpoint=False,
        seed=config.seed, threads=config.threads, trainable_layers=config.trainable_layers),
        log=say)
    task = ArithmeticTask(seed=config.seed)
    rows = [{"prompt": list(p.messages), "answer": p.answer}
            for step in range(config.steps) for p in task.batch(step, config.prompts_per_step)]
    trl_model, tokenizer = load_causal_lm(config.model, device="cpu")
    freeze_below(trl_model, config.trainable_layers)  # TRL's optimizer skips frozen parameters
    args = GRPOConfig(
        output_dir=str(tmp / "trl"), per_device_train_batch_size=config.prompts_per_step
        * config.group_size, num_generations=config.group_size,
        max_completion_length=config.max_new_tokens, learning_rate=config.lr,
        beta=config.kl_coef, temperature=1.0, top_p=1.0, top_k=0, num_iterations=1,
        loss_type="grpo", scale_rewards="group", epsilon=0.2, max_grad_norm=1.0,
        weight_decay=0.0, lr_scheduler_type="constant", warmup_steps=0, max_steps=config.steps,
        shuffle_dataset=False, logging_steps=1, report_to="none", save_strategy="no",
        use_cpu=True, bf16=False, gradient_checkpointing=False, seed=config.seed,
        disable_tqdm=True,
        reward_weights=[1.0, 0.5], dataloader_num_workers=0)
    times = {"ours": [], "trl": []}
    ours_rewards: list[float] = []

    class Alternate(TrainerCallback):
        def on_step_begin(self, *_: Any, **__: Any) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, *_: Any, **__: Any) -> None:
            times["trl"].append(time.perf_counter() - self.start)
            start = time.perf_counter()
            record = ours.train_step()
            times["ours"].append(time.perf_counter() - start)
            ours_rewards.append(record["reward_mean"])
            say(f"step {record['step']}: trl {times['trl'][-1]:.1f}s ours {times['ours'][-1]:.1f}s")

    trainer = GRPOTrainer(model=trl_model, reward_funcs=[_trl_reward(correct_reward),
                                                         _trl_reward(format_reward)],
                          args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer, callbacks=[Alternate()])
    with contextlib.redirect_stdout(sys.stderr):  # TRL prints its log dicts; stdout stays ours
        trainer.train()
    trl_rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    evals = {}
    problems = task.eval_set(config.eval_prompts)
    for name, model in (("ours", ours.policy), ("trl", trainer.model)):
        evals[name] = evaluate(model, tokenizer, problems, [correct_reward, format_reward],
                               [1.0, 0.5], config.max_new_tokens, 256, torch.device("cpu"),
                               samples=config.eval_samples, temperature=1.0, seed=config.seed)
    del trainer
    gc.collect()
    median = {k: statistics.median(v[1:] if len(v) > 2 else v) for k, v in times.items()}
    table = markdown_table([
        {"trainer": name, "median_step_s": median[name],
         "rollout_reward_mean": statistics.mean(rewards), "rollout_reward_last": rewards[-1],
         "heldout_reward_after": evals[name]["reward"],
         "heldout_accuracy_after": evals[name]["accuracy"]}
        for name, rewards in (("ours", ours_rewards), ("trl", trl_rewards))])
    return {
        "table": table, "steps": config.steps,
        "batch": f"{config.prompts_per_step}x{config.group_size}x{config.max_new_tokens}",
        "ours_step_s": round(median["ours"], 3), "trl_step_s": round(median["trl"], 3),
        "ours_vs_trl_time": round(median["ours"] / median["trl"], 3),
        "ours_rollout_reward_mean": round(statistics.mean(ours_rewards), 4),
        "trl_rollout_reward_mean": round(statistics.mean(trl_rewards), 4),
        "ours_heldout_reward": round(evals["ours"]["reward"], 4),
        "trl_heldout_reward": round(evals["trl"]["reward"], 4),
        "peak_rss_mb": round(peak_rss_mb()),
    }
