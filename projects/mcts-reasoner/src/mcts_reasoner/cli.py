"""Command line of mcts-reasoner: a thin layer over the library (see `mcts-reasoner --help`).

`check` scores completions with the checker, `generate` writes seeded problems, `solve` runs a
strategy over a problem file, `demo` shows all three. Output files are written whole (temp +
rename) or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, atomic_write, build_config, cli_entry, emit_json

from .checker import TASKS, VERDICTS, check
from .config import DemoConfig, SolveConfig
from .lines import check_lines, problem_lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcts-reasoner",
        description="Verifiable reasoning tasks, one exact checker, and strategies compared by "
                    "accuracy and compute — chapter 7.4 (推理模型专题) of "
                    "LLM Full-Stack Engineering.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chk = commands.add_parser("check", help="score completions with the checker")
    chk.add_argument("--input", type=Path, required=True,
                     help="JSONL lines {task, problem, completion}")
    chk.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    gen = commands.add_parser("generate", help="write seeded problems as JSONL to stdout")
    gen.add_argument("--task", required=True, help=", ".join(TASKS))
    gen.add_argument("--n", type=int, default=10, help="how many problems")
    gen.add_argument("--seed", type=int, default=0)
    solve = commands.add_parser("solve", help="run a strategy over a problem file")
    add_config_args(solve, SolveConfig)
    solve.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    demo = commands.add_parser("demo", help="checker table, solver, CoT vs self-consistency")
    add_config_args(demo, DemoConfig)
    return parser


def _counts(statuses: list[str]) -> dict[str, int]:
    counted = Counter(statuses)
    return {v: counted.get(v, 0) for v in VERDICTS}


def cmd_check(args: argparse.Namespace) -> None:
    results = [check(task, problem, completion).to_json()
               for task, problem, completion in check_lines(args.input)]
    if not args.json:
        for i, r in enumerate(results, start=1):
            print(f"{i:4d}  {r['verdict']:<14} {r['extracted']!r}")
    emit_json({"results": results, "counts": _counts([r["verdict"] for r in results])})


def cmd_generate(args: argparse.Namespace) -> None:
    if args.task not in TASKS:
        raise UserError(f"unknown task '{args.task}'; use one of " + ", ".join(TASKS))
    if args.n < 1:
        raise UserError(f"--n must be >= 1 (got {args.n})")
    from .tasks import generate

    for problem in generate(args.task, args.n, args.seed):
        print(json.dumps(problem))


def cmd_solve(args: argparse.Namespace) -> None:
    config = build_config(SolveConfig, args)
    if config.problems is None or config.output is None:
        raise UserError("solve needs --problems FILE.jsonl and --output FILE.jsonl")
    if config.output.exists() and not config.overwrite:
        raise UserError(f"{config.output} exists; pass --overwrite to replace it")
    from .config import IMPLEMENTED
    from .strategies import run_strategy

    if config.strategy not in IMPLEMENTED:  # before any model loads
        raise UserError(f"strategy '{config.strategy}' is not implemented in this version; use "
                        "one of " + ", ".join(IMPLEMENTED))
    if config.strategy == "solver" and config.task != "countdown":
        raise UserError(f"--strategy solver solves countdown only (got --task {config.task})")
    problems = problem_lines(config.problems, config.task)
    model = tokenizer = None
    if config.strategy != "solver":
        from llm_shared import load_causal_lm, torch_threads

        torch_threads(config.threads)
        model, tokenizer = load_causal_lm(config.model, device=config.device)
    from llm_shared import track

    rows = []
    for problem in track(problems, description=config.strategy):
        outcome = run_strategy(config.strategy, config.task, problem, model=model,
                               tokenizer=tokenizer, budget=config.budget,
                               max_new_tokens=config.max_new_tokens,
                               temperature=config.temperature, seed=config.seed)
        rows.append(outcome.to_json(problem["id"]))
    with atomic_write(config.output) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = {
        "accuracy": round(sum(r["verdict"] == "correct" for r in rows) / len(rows), 4),
        "parse_failures": sum(r["verdict"] == "parse_failure" for r in rows),
        "tokens": sum(r["tokens"] for r in rows),
        "forward_passes": sum(r["forward_passes"] for r in rows),
        "problems": len(rows), "strategy": config.strategy, "task": config.task,
    }
    if not args.json:
        print(f"{config.strategy} on {len(rows)} {config.task} problems -> {config.output}",
              file=sys.stderr)
    emit_json(summary)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        cmd_check(args)
    elif args.command == "generate":
        cmd_generate(args)
    elif args.command == "solve":
        cmd_solve(args)
    else:
        from .demo import run_demo

        emit_json(run_demo(build_config(DemoConfig, args)))
    return 0
