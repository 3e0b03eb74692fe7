"""Command line of model-families: a thin layer over the library (see `model-families --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from llm_shared import add_config_args, build_config, cli_entry, emit_json, markdown_table

from .config import (
    BenchConfig,
    CompareConfig,
    DemoConfig,
    FillMaskConfig,
    GenerateConfig,
    TableConfig,
)

EPILOG = """typical session:
  model-families compare --model smollm2-135m-instruct
  model-families compare --model path/to/a/saved/t5 --json
  model-families generate --prompt "The three primary colours are" --max-tokens 16 --check-hf
  model-families fill-mask --model path/to/bert-mlm --text "The capital of France is [MASK]."
  model-families table
  model-families demo"""


def _compare(config: CompareConfig) -> int:
    from .compare import compare_folder

    result = compare_folder(config.model, config.repeats)
    if not config.json:
        verdict = "equal within 1e-4" if result["ok"] else "DIFFERENT (> 1e-4)"
        print(f"{result['family']}: max |logit diff| {result['max_abs_logit_diff']:.2e}, "
              f"max |hidden diff| {result['max_abs_hidden_diff']:.2e} -> {verdict}; "
              f"{result['params']:,} parameters; forward ours {result['ours_s'] * 1e3:.1f} ms, "
              f"transformers {result['hf_s'] * 1e3:.1f} ms")
    emit_json(result)
    return 0 if result["ok"] else 1


def _generate(config: GenerateConfig) -> int:
    from .tasks import generate_text

    result = generate_text(config)
    if not config.json:
        print(f"{config.prompt}{result['text']}")
    emit_json(result)
    return 0 if result.get("equal_to_hf", True) else 1


def _fill_mask(config: FillMaskConfig) -> int:
    from .tasks import fill_mask

    result = fill_mask(config)
    if not config.json:
        for i, candidates in enumerate(result["masks"]):
            shown = ", ".join(f"{c['token']} ({c['score']:.3f})" for c in candidates)
            print(f"mask {i + 1}: {shown}")
    emit_json(result)
    return 0


def _table(config: TableConfig) -> int:
    from .table import build_table

    rows = build_table(config.models)
    if not config.json:
        print(markdown_table(rows))
    emit_json({"rows": rows})
    return 0


def _demo(config: DemoConfig) -> int:
    from .demo import run_demo

    emit_json(run_demo(config))
    return 0


def _bench(config: BenchConfig) -> int:
    from .bench import run_bench

    result = run_bench(config)
    if not config.json:
        print(markdown_table(result["rows"], ["what", "inputs", "ours_s", "hf_s", "ours_over_hf",
                                              "ours_tok_s", "hf_tok_s", "speed_vs_hf"]))
    emit_json(result["summary"])
    return 0


COMMANDS: dict[str, tuple[type, Callable[[Any], int], str]] = {
    "compare": (CompareConfig, _compare, "our implementation vs transformers on one folder"),
    "generate": (GenerateConfig, _generate, "greedy or sampled text with our KV-cache loop"),
    "fill-mask": (FillMaskConfig, _fill_mask, "BERT masked-token predictions"),
    "table": (TableConfig, _table, "the family comparison table, from code and configs"),
    "demo": (DemoConfig, _demo, "compare all four families, generate, print the table"),
    "bench": (BenchConfig, _bench, "forward and greedy-decode speed vs transformers"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="model-families", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="BERT, GPT-2, T5 and Llama side by side, loading Hugging Face folders and "
                    "matching transformers - chapter 2.2 (模型家族谱系：从编码器到解码器) of "
                    "LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (cls, _, help_text) in COMMANDS.items():
        add_config_args(commands.add_parser(name, help=help_text, description=help_text), cls)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cls, runner, _ = COMMANDS[args.command]
    return runner(build_config(cls, args))


__all__ = ["COMMANDS", "build_parser", "main"]
