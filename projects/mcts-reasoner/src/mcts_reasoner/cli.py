"""Command line of mcts-reasoner: a thin layer over the library (see `mcts-reasoner --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .config import DemoConfig
from .demo import run_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcts-reasoner",
        description="CoT, self-consistency, MCTS — chapter 7.4 (推理模型专题) of LLM Full-Stack Engineering.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="a short run on the embedded defaults")
    add_config_args(demo, DemoConfig)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        result = run_demo(build_config(DemoConfig, args))
        print(result["answer"])
        emit_json({k: v for k, v in result.items() if k != "answer"})
    return 0
