"""Command line of ppo-trainer: a thin layer over the library (see `ppo-trainer --help`).

Subcommands: train (ppo/grpo/rloo), train-rm, plot, demo, bench. Every flag comes from a config
dataclass (config.py); `--config file.toml` presets them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .config import DemoConfig, RewardModelConfig, TrainConfig

EPILOG_TRAIN = """examples:
  ppo-trainer train --algo grpo --output runs/grpo --steps 40
  ppo-trainer train --algo rloo --output runs/rloo --steps 40
  ppo-trainer train-rm --output runs/rm && \\
  ppo-trainer train --algo ppo --group-size 4 --reward-model runs/rm --output runs/ppo
  ppo-trainer train --algo grpo --output runs/grpo --steps 80 --resume   # continue a run
metrics: OUTPUT/metrics.jsonl (one JSON line per step), OUTPUT/curves.png, OUTPUT/checkpoint/
(policy/ is a save_pretrained folder). A reward function that raises or returns NaN skips the
step (counted as skipped_total); --max-skipped in a row stops the run with an error."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppo-trainer",
        description="PPO, GRPO and RLOO for language models with every loss term readable and "
                    "tested against TRL — chapter 5.3 (强化学习神器：TRL 实战).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train", help="RL fine-tuning with --algo ppo|grpo|rloo on the arithmetic task",
        description="Sample completions, score them, update the policy; log and checkpoint.",
        epilog=EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(train, TrainConfig)
    train_rm = commands.add_parser(
        "train-rm", help="train a Bradley-Terry reward model on preference pairs",
        description="Fit score(prompt, response) so that chosen beats rejected; prints held-out "
                    "accuracy before/after. Use the folder with `train --reward-model DIR`.")
    add_config_args(train_rm, RewardModelConfig)
    plot = commands.add_parser("plot", help="render a run's metrics.jsonl to curves.png",
                               description="Draw reward, KL, entropy, clip fraction, value loss "
                                           "and response length per step.")
    plot.add_argument("directory", type=Path, help="the --output DIR of a train run")
    plot.add_argument("--out", type=Path, default=None, help="PNG path (default DIR/curves.png)")
    demo = commands.add_parser("demo", help="a few GRPO steps on the embedded task (< 90 s)",
                               description="GRPO on SmolLM2-135M-Instruct, arithmetic in "
                                           "<answer> tags; held-out reward before/after (2 seeded "
                                           "samples per prompt at temperature 1).")
    add_config_args(demo, DemoConfig)
    bench = commands.add_parser(
        "bench", help="step time and reward vs TRL's GRPOTrainer (same model/task/batch)",
        description="Runs our GRPO and trl.GRPOTrainer step by step, alternating, on the same "
                    "model, prompts and batch shape; prints a table and the ratio.")
    from .bench import BenchConfig

    add_config_args(bench, BenchConfig)
    bench.add_argument("--json", action="store_true", help="print only the JSON result line")
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from .plot import plot_run
        from .trainer import train

        config = build_config(TrainConfig, args)
        summary = train(config)
        png = plot_run(config.output)
        print(f"{config.algo}: held-out reward {summary['eval_before'].get('reward')} -> "
              f"{summary['eval_after'].get('reward')}; curves in {png}")
        emit_json({**summary, "curves": str(png)})
    elif args.command == "train-rm":
        from .train_rm import train_reward_model

        config = build_config(RewardModelConfig, args)
        result = train_reward_model(config)
        print(f"reward model in {config.output}: held-out accuracy "
              f"{result['eval_accuracy_before']} -> {result['eval_accuracy_after']}")
        emit_json(result)
    elif args.command == "plot":
        from .plot import plot_run

        png = plot_run(args.directory, args.out)
        print(f"wrote {png}")
        emit_json({"png": str(png)})
    elif args.command == "demo":
        from .demo import run_demo

        result = run_demo(build_config(DemoConfig, args))
        print(f"GRPO, {result['steps']} steps on 'What is a + b?' (answer in <answer> tags)")
        print(f"held-out reward (8 prompts x 2 seeded samples): {result['reward_before']} -> "
              f"{result['reward_after']} "
              f"(accuracy {result['accuracy_before']} -> {result['accuracy_after']}, format "
              f"{result['format_rate_before']} -> {result['format_rate_after']})")
        print(f"sample before: {result['sample_before']!r}")
        print(f"sample after:  {result['sample_after']!r}")
        emit_json(result)
    elif args.command == "bench":
        from .bench import BenchConfig, run_bench

        result = run_bench(build_config(BenchConfig, args), quiet=args.json)
        if not args.json:
            print(result.pop("table"))
        else:
            result.pop("table")
        print(json.dumps(result))
    return 0
