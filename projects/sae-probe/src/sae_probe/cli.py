"""Command line of sae-probe: a thin layer over the library (see `sae-probe --help`).

Subcommands are registered in `COMMANDS` (name -> (config class, runner, one-line help)), so a
later chapter command (the planned `jailbreak-eval`) is one more entry and one more module.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from llm_shared import (
    UserError,
    add_config_args,
    build_config,
    cli_entry,
    emit_json,
    load_causal_lm,
    markdown_table,
    pick_device,
)

from .config import (
    CaptureConfig,
    DemoConfig,
    EvalConfig,
    InspectConfig,
    ProbeConfig,
    SteerConfig,
    TrainConfig,
)

EPILOG = """typical session:
  sae-probe capture --hook resid_post.3 --max-tokens 200000 --out runs/acts
  sae-probe train --acts runs/acts --arch topk --d-sae 4608 --k 32 --out runs/sae
  sae-probe evaluate --sae runs/sae --acts runs/acts --json
  sae-probe inspect --sae runs/sae --acts runs/acts --out runs/dashboard
  sae-probe probe --label code --out runs/probe
  sae-probe steer --sae runs/sae --latent 123 --strength 0.2
(jailbreak evaluation, the other half of the chapter, will be its own subcommand)"""


def _capture(config: CaptureConfig) -> int:
    from .capture import capture

    manifest = capture(config)
    print(f"captured {manifest['n_tokens']} rows of {manifest['hook']} ({manifest['d_model']} "
          f"dims, {len(manifest['shards'])} shards, {manifest['docs_used']} documents) "
          f"-> {config.out}")
    emit_json({k: manifest[k] for k in ("model", "hook", "n_tokens", "d_model", "docs_used")})
    return 0


def _train(config: TrainConfig) -> int:
    from .train import train

    summary = train(config)
    final = summary["final"]
    print(f"trained {config.arch} SAE ({config.d_sae} latents) for {summary['tokens']} tokens: "
          f"loss {final.get('loss', float('nan')):.4f}, L0 {final.get('l0', float('nan')):.1f}, "
          f"dead {summary['dead_frac']:.3f} -> {config.out}")
    emit_json(summary)
    return 0


def _evaluate(config: EvalConfig) -> int:
    from .evaluate import evaluate

    result = evaluate(config)
    if not config.json:
        print(markdown_table([result]))
    emit_json(result)
    return 0


def _inspect(config: InspectConfig) -> int:
    from .dashboard import build_reports, check_dashboard_out, context_text, write_dashboard
    from .store import ActivationStore
    from .train import load_sae

    check_dashboard_out(config.out)  # before minutes of work
    sae, store = load_sae(config.sae), ActivationStore(config.acts)
    store.check_matches(model=sae.cfg.model, hook=sae.cfg.hook, d_model=sae.cfg.d_in)
    model, tokenizer = load_causal_lm(store.model, device=pick_device(config.device))
    reports = build_reports(sae, store, tokenizer, model, config.latents, config.n_latents,
                            config.top, config.window, config.rows)
    meta = {"model": store.model, "hook": store.hook, "arch": sae.cfg.arch,
            "d_sae": sae.cfg.d_sae, "rows": min(config.rows, len(store.positions()))}
    page = write_dashboard(config.out, reports, meta)
    for r in reports:
        best = context_text(r.contexts[0]) if r.contexts else "(never fired)"
        print(f"latent {r.latent:5d} freq {r.frequency:.4f} max {r.max_act:6.2f} "
              f"promotes {r.promoted[:4]!r}: {best[-60:]}")
    print(f"dashboard: {page}")
    emit_json({"dashboard": str(page), "latents": [r.latent for r in reports]})
    return 0


def _probe(config: ProbeConfig) -> int:
    from .probe import run_probe

    summary = run_probe(config)
    print(markdown_table(summary["layers"]))
    print(f"best layer {summary['best_layer']}: held-out accuracy {summary['best_test_acc']:.3f}"
          f" (plot: {config.out / 'probe.png'})")
    emit_json({k: v for k, v in summary.items() if k != "layers"})
    return 0


def _steer(config: SteerConfig) -> int:
    from .steer import steer

    result = steer(config)
    if not config.json:
        print(f"prompt: {result['prompt']}\n--- before ---\n{result['before']}\n"
              f"--- after (+{result['strength']} x mean norm at {result['hook']}) ---\n"
              f"{result['after']}")
    emit_json(result)
    return 0


def _demo(config: DemoConfig) -> int:
    from .demo import run_demo

    emit_json(run_demo(config))
    return 0


COMMANDS: dict[str, tuple[type | None, Callable[[Any], int], str]] = {
    "capture": (CaptureConfig, _capture, "store a hook point's activations over a corpus"),
    "train": (TrainConfig, _train, "train a ReLU/TopK/JumpReLU sparse autoencoder"),
    "evaluate": (EvalConfig, _evaluate, "L0, FVU, dead/dense latents, spliced loss change"),
    "inspect": (InspectConfig, _inspect, "top contexts, histograms, logit lens -> HTML"),
    "probe": (ProbeConfig, _probe, "logistic-regression probes per layer (+ PNG plot)"),
    "steer": (SteerConfig, _steer, "generate with a latent or probe direction added"),
    "demo": (DemoConfig, _demo, "capture, train a small TopK SAE, evaluate, show a latent"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sae-probe", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sparse autoencoders, linear probes and steering on a real model - "
                    "chapter 7.5 (模型安全与可解释性) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (cls, _, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_config_args(sub, cls)
    bench = commands.add_parser(
        "bench", help="our TopK SAE vs SAELens' on the same activations",
        description="Train our TopK SAE and SAELens' TopKTrainingSAE on the same captured "
                    "activations (same d_sae, k, tokens, batch, lr), alternating runs; compare "
                    "FVU, L0, dead fraction, spliced loss change and time per token.")
    from .bench import BenchConfig

    add_config_args(bench, BenchConfig)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except OSError as exc:  # an unwritable --out, a full disk, a folder given as a file ...
        where = f" ({exc.filename})" if exc.filename else ""
        raise UserError(f"{exc.strerror or exc}{where}; check the path and its permissions, "
                        "or pick another") from exc


def _run(args: argparse.Namespace) -> int:
    if args.command == "bench":
        from .bench import BenchConfig, run_bench

        config = build_config(BenchConfig, args)
        result = run_bench(config)
        if not config.json:
            print(markdown_table(result["curve"]))  # held-out FVU per step of both
            print(markdown_table(result["rows"]))
        emit_json(result["summary"])
        return 0
    cls, runner, _ = COMMANDS[args.command]
    return runner(build_config(cls, args))


__all__ = ["COMMANDS", "build_parser", "main"]
