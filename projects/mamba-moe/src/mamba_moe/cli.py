"""Command line of mamba-moe: a thin layer over the library (see `mamba-moe --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from llm_shared import add_config_args, build_config, cli_entry, emit_json, markdown_table

from .config import (
    CompareConfig,
    DataConfig,
    DemoConfig,
    EvalConfig,
    GenerateConfig,
    LogitsConfig,
    TrainConfig,
)

EPILOG = """typical session:
  mamba-moe compare --model path/to/mamba-or-mixtral --json
  mamba-moe train --task selective-copy --arch mamba --output runs/mamba
  mamba-moe data --task selective-copy --output runs/test.jsonl
  mamba-moe eval --model runs/mamba --data runs/test.jsonl --output runs/preds.jsonl
  mamba-moe bench --json"""


def _load(folder):
    from .checkpoint import load_model

    return load_model(folder)


def _logits(config: LogitsConfig) -> int:
    from .inference import read_ids, run_logits, write_logits

    kind, model = _load(config.model)
    ids = read_ids(config.input, model.config.vocab_size)
    logits = run_logits(model, ids, config.scan)
    write_logits(logits, config.output)
    print(f"{kind}: logits {tuple(logits.shape)} -> {config.output}")
    emit_json({"architecture": kind, "shape": list(logits.shape), "output": str(config.output)})
    return 0


def _generate(config: GenerateConfig) -> int:
    from .inference import read_ids

    _, model = _load(config.model)
    ids = read_ids(config.input, model.config.vocab_size)
    new, state_bytes = model.generate(ids, config.max_new_tokens)
    if not config.json:
        for row in new.tolist():
            print(" ".join(map(str, row)))
        print(f"decoding state held: {state_bytes} bytes")
    emit_json({"new_ids": new.tolist()})
    return 0


def _compare(config: CompareConfig) -> int:
    from .inference import compare_with_hf

    result = compare_with_hf(config)
    if not config.json:
        print(markdown_table([result]))
    emit_json(result)
    return 0


def _train(config: TrainConfig) -> int:
    from .train import train

    summary = train(config)
    print(f"{config.arch} ({summary['params']} params) on {config.task}: token accuracy "
          f"{summary['token_accuracy']}, sequence accuracy {summary['sequence_accuracy']} "
          f"-> {config.output}")
    emit_json(summary)
    return 0


def _data(config: DataConfig) -> int:
    from .inference import write_data

    n = write_data(config)
    print(f"{n} {config.task} examples -> {config.output}")
    emit_json({"examples": n, "output": str(config.output)})
    return 0


def _eval(config: EvalConfig) -> int:
    from .inference import evaluate

    result = evaluate(config)
    if not config.json:
        print(f"{result['examples']} predictions -> {result['output']}")
    emit_json(result)
    return 0


def _demo(config: DemoConfig) -> int:
    from .demo import run_demo

    emit_json(run_demo(config))
    return 0


COMMANDS: dict[str, tuple[type, Callable[[Any], int], str]] = {
    "logits": (LogitsConfig, _logits, "logits of a Mamba/Mixtral folder -> safetensors"),
    "generate": (GenerateConfig, _generate, "greedy ids with the recurrent state / KV cache"),
    "compare": (CompareConfig, _compare, "our logits, greedy ids and speed vs transformers"),
    "train": (TrainConfig, _train, "train mamba / transformer / moe on a synthetic task"),
    "data": (DataConfig, _data, "write seeded selective-copy or MQAR examples (JSON lines)"),
    "eval": (EvalConfig, _eval, "greedy predictions and accuracy on JSON-lines data"),
    "demo": (DemoConfig, _demo, "equality, scan speed, an MoE run, a selective-copy run"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mamba-moe", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Mamba selective scan and Mixture-of-Experts from scratch, equal to "
                    "transformers - chapter 7.2 (新型架构探索) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (cls, _, help_text) in COMMANDS.items():
        add_config_args(commands.add_parser(name, help=help_text, description=help_text), cls)
    bench = commands.add_parser("bench", help="scan vs transformers and mambapy; MoE vs Mixtral")
    bench.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096],
                       help="sequence lengths L (default: 256 1024 4096)")
    bench.add_argument("--repeats", type=int, default=3, help="alternating timed repeats")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        from .bench import run_bench

        result = run_bench(args.lengths, args.repeats, quiet=args.json)
        emit_json(result)
        return 0
    cls, runner, _ = COMMANDS[args.command]
    return runner(build_config(cls, args))

