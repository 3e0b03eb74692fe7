"""Command line of transformer-core: a thin layer over the library (see `transformer-core --help`).

Each subcommand is (config class, runner, help) in `COMMANDS`; the runners print for a person and
end with one JSON line where a script may want the figures.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .config import (
    AttentionConfig,
    BenchConfig,
    CheckConfig,
    DemoConfig,
    InfoConfig,
    PredictConfig,
    TrainConfig,
)

EPILOG = """typical session:
  transformer-core train --task reverse --output runs/rev
  printf '3 9 1 4\\n8 8 0 2 5 1\\n' > in.txt
  transformer-core predict --model runs/rev --input in.txt --output out.txt --beam 4
  transformer-core attention --model runs/rev --input "3 9 1 4" --out runs/rev/attention
  transformer-core check --json
  transformer-core info --d-model 512 --num-heads 8 --attention gqa"""


def _train(config: TrainConfig) -> int:
    from .train import train

    metrics = train(config)
    print(f"{config.task}: {metrics['steps']} steps in {metrics['train_seconds']} s, final loss "
          f"{metrics['final_loss']:.4f}, held-out exact match {metrics['exact_match']:.3f} "
          f"({metrics['eval_size']} inputs) -> {config.output}")
    emit_json(metrics)
    return 0


def _predict(config: PredictConfig) -> int:
    from .predict import predict_file

    summary = predict_file(config)
    print(f"{summary['lines']} {summary['task']} answers -> {config.output}")
    emit_json(summary)
    return 0


def _check(config: CheckConfig) -> int:
    from .reference import run_checks

    result = run_checks(config.seed)
    if not config.json:
        for key, value in result.items():
            print(f"{key:26s} {value:.3e}  {'ok' if value <= 1e-5 else 'ABOVE 1e-5'}")
    emit_json(result)
    return 0 if max(result.values()) <= 1e-5 else 1


def _attention(config: AttentionConfig) -> int:
    from .plots import attention_maps, plot_attention
    from .train import load_run

    model, task = load_run(config.model)
    maps, source, target = attention_maps(model, task, config.input)
    paths = plot_attention(maps, source, target, config.out)
    print(f"output: {task.render(target[1:])}")
    for path in paths:
        print(f"  {path}")
    emit_json({"heatmaps": [str(p) for p in paths], "output": task.render(target[1:])})
    return 0


def _info(config: InfoConfig) -> int:
    from .info import describe, render

    info = describe(config)
    if not config.json:
        print(render(info))
    emit_json({"total_parameters": info["total_parameters"],
               "total_gflops": round(info["total_gflops"], 4), "flops": info["flops"]})
    return 0


def _demo(config: DemoConfig) -> int:
    from .demo import run_demo

    emit_json(run_demo(config))
    return 0


def _bench(config: BenchConfig) -> int:
    from .bench import run_bench

    result = run_bench(config)
    print(json.dumps(result, indent=2))
    emit_json(result)
    return 0


COMMANDS: dict[str, tuple[type, Callable[[Any], int], str]] = {
    "train": (TrainConfig, _train, "train a model on copy, reverse, sort or add"),
    "predict": (PredictConfig, _predict, "answer a file of task inputs, one per line"),
    "check": (CheckConfig, _check, "equality with torch.nn.MultiheadAttention / Transformer"),
    "attention": (AttentionConfig, _attention, "attention heatmaps (PNG) for one input"),
    "info": (InfoConfig, _info, "parameters, shapes and FLOPs of a configuration"),
    "demo": (DemoConfig, _demo, "checks, then reverse and addition trained from scratch"),
    "bench": (BenchConfig, _bench, "forward+backward time vs torch.nn.Transformer"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transformer-core", epilog=EPILOG, formatter_class=argparse.RawTextHelpFormatter,
        description="The encoder-decoder Transformer from scratch, equal to PyTorch's own — "
                    "chapter 2.1 (Transformer 核心揭秘) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (config_class, _, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_config_args(sub, config_class)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_class, runner, _ = COMMANDS[args.command]
    return runner(build_config(config_class, args))
