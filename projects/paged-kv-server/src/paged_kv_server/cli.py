"""Command line of paged-kv-server: a thin layer over the library (see `paged-kv-server --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .config import DemoConfig
from .demo import run_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paged-kv-server",
        description="PagedAttention, continuous batching — chapter 6.2 (高性能推理实战：vLLM) of LLM Full-Stack Engineering.",
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
