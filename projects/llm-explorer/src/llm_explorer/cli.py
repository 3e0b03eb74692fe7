"""Command line of llm-explorer: a thin layer over the library (see `llm-explorer --help`).

generate  one prompt, streamed; --json ends with {text, token_ids, finish_reason}
inspect   the next-token table (--steps N greedy steps, --html / --png views, --json)
probe     the capability report (report.json, report.png, answers.jsonl; --compare)
chat      the REPL (works piped)        demo   the tour        bench  ours vs HF generate
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, build_config, cli_entry, emit_json

from .config import (
    ChatConfig,
    DemoConfig,
    GenerateConfig,
    InspectConfig,
    ModelConfig,
    ProbeConfig,
    SamplerConfig,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-explorer",
        description="Chat with a local LLM and see every decision: the next-token distribution, "
                    "each sampler's cut, the KV cache, and a capability report — chapter 1.1 "
                    "(初识大语言模型) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, cls, text in (("generate", GenerateConfig, "generate text from one prompt"),
                            ("inspect", InspectConfig, "show the next-token distribution"),
                            ("probe", ProbeConfig, "run the capability probes"),
                            ("chat", ChatConfig, "chat in the terminal"),
                            ("demo", DemoConfig, "a one-minute tour on the embedded model"),
                            ("bench", ModelConfig, "our loop vs HF generate (tokens/s)")):
        add_config_args(commands.add_parser(name, help=text), cls)
    return parser


def _engine(config: ModelConfig):
    from .engine import Engine

    return Engine.load(config.model, device=config.device)


def _sampler(config: SamplerConfig) -> SamplerConfig:
    return SamplerConfig(**{f.name: getattr(config, f.name)
                            for f in dataclasses.fields(SamplerConfig)})


def cmd_generate(config: GenerateConfig) -> int:
    from .samplers import SamplerChain

    if not config.prompt:
        raise UserError("generate needs --prompt TEXT")
    engine = _engine(config)
    ids = engine.encode(config.prompt, chat=config.chat, system=config.system)
    result = engine.generate(ids, SamplerChain(_sampler(config)), max_tokens=config.max_tokens,
                             stop=config.stop,
                             on_text=lambda piece: print(piece, end="", flush=True))
    print()
    if config.json:
        emit_json(result.as_json())
    return 0


def cmd_inspect(config: InspectConfig) -> int:
    from .inspector import render_table, walk, write_html, write_png
    from .samplers import SamplerChain

    if not config.prompt:
        raise UserError("inspect needs --prompt TEXT")
    engine = _engine(config)
    chain = SamplerChain(_sampler(config))
    ids = engine.encode(config.prompt, chat=config.chat)
    views = walk(engine, ids, chain, config.steps, top=config.top)
    for view in views:
        if config.json:
            print(json.dumps(view.as_json(), ensure_ascii=False))
        else:
            print(render_table(view, chain, engine.tokenizer) + "\n")
    if config.html:
        write_html(views, config.html, config.prompt)
    if config.png:
        write_png(views[0], config.png, config.prompt)
    return 0


def _parse_settings(text: str, base: SamplerConfig) -> SamplerConfig:
    """'temperature=0.8,top_p=0.9' -> base with those fields replaced."""
    kinds = {f.name: f.type for f in dataclasses.fields(SamplerConfig)}
    values = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if key not in kinds or not value:
            raise UserError(f"--compare-samplers: bad setting {part!r}; use KEY=VALUE with KEY in "
                            + ", ".join(kinds))
        try:
            values[key] = {"int": int, "float": float}.get(str(kinds[key]), str)(value)
        except ValueError as exc:
            raise UserError(f"--compare-samplers: {key} needs a number (got {value!r})") from exc
    return dataclasses.replace(base, **values)


def cmd_probe(config: ProbeConfig) -> int:
    from .engine import Engine
    from .probes import load_suite, prepare_out, run_probes, write_report
    from .samplers import SamplerChain

    out = Path(config.out)
    probes = load_suite(config.categories, config.per_category)
    base = _sampler(config)
    second = _parse_settings(config.compare_samplers, base) if config.compare_samplers else None
    if config.compare and second:
        raise UserError("pass --compare MODEL or --compare-samplers SETTINGS, not both")
    partial = prepare_out(out, config.overwrite, config.resume)
    engine = _engine(config)
    runs = [(config.model, run_probes(engine, SamplerChain(base), probes,
                                      max_tokens=config.max_tokens, label=config.model,
                                      partial=partial, resume=config.resume))]
    if config.compare:
        other = Engine.load(config.compare, device=config.device)
        runs.append((config.compare, run_probes(other, SamplerChain(base), probes,
                                                max_tokens=config.max_tokens,
                                                label=config.compare, partial=partial,
                                                resume=config.resume)))
    elif second is not None:
        label = f"{config.model} [{config.compare_samplers}]"
        runs.append((label, run_probes(engine, SamplerChain(second), probes,
                                       max_tokens=config.max_tokens, label=label,
                                       partial=partial, resume=config.resume)))
    report = write_report(out, runs, config.bootstrap)
    for label, cats in [(report["model"], report["categories"])] + (
            [(report["compare"]["model"], report["compare"]["categories"])]
            if "compare" in report else []):
        print(f"{label}: overall {sum(c['passed'] for c in cats.values())}/"
              f"{sum(c['total'] for c in cats.values())}")
        for name, c in cats.items():
            print(f"  {name:<13} {c['passed']:>3}/{c['total']:<3} {c['rate']:.2f} "
                  f"[{c['ci_low']:.2f}, {c['ci_high']:.2f}]")
    emit_json({"out": str(out), "overall": report["overall"],
               "categories": {k: v["rate"] for k, v in report["categories"].items()},
               **({"compare_overall": report["compare"]["overall"]} if "compare" in report
                  else {})})
    return 0


def cmd_chat(config: ChatConfig) -> int:
    from .chat import run_chat

    run_chat(_engine(config), config)
    return 0


def cmd_bench(config: ModelConfig) -> int:
    from .bench import run_bench

    rows = run_bench(_engine(config))
    for mode, row in rows.items():
        print(f"{mode:<8} ours {row['ours_tokens_per_s']:>7.2f} tok/s  HF generate "
              f"{row['hf_tokens_per_s']:>7.2f} tok/s  ratio {row['ratio']:.3f}x"
              + (f"  identical: {row['identical']}" if "identical" in row else ""))
    emit_json(rows)
    return 0


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        emit_json(run_demo(build_config(DemoConfig, args)))
        return 0
    handler = {"generate": (cmd_generate, GenerateConfig), "inspect": (cmd_inspect, InspectConfig),
               "probe": (cmd_probe, ProbeConfig), "chat": (cmd_chat, ChatConfig),
               "bench": (cmd_bench, ModelConfig)}[args.command]
    code = handler[0](build_config(handler[1], args))
    sys.stdout.flush()
    return code
