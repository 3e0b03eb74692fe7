"""The chapter demo: the equality checks, then reverse and addition trained from scratch, their
answers on held-out inputs, and one attention heatmap.

Run: `uv run transformer-core demo` (about a minute on 2 cores). Writes under `--out` (default
`runs/demo`), a folder it marks as its own and refuses to use if something else is there.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from llm_shared import UserError

from .config import DemoConfig, TrainConfig
from .plots import attention_maps, plot_attention
from .predict import predict_lines
from .reference import run_checks
from .train import load_run, train

MARKER = ".transformer-core-demo"


def _claim(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UserError(f"{out} exists and was not made by the demo; pass another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()


def run_demo(config: DemoConfig, say=print) -> dict[str, Any]:
    start = time.perf_counter()
    _claim(config.out)
    checks = run_checks(config.seed)
    say("equality with PyTorch's own modules, same weights (max |difference|):")
    for key, value in checks.items():
        say(f"  {key:26s} {value:.2e}")

    results = {}
    rng = random.Random(config.seed)
    for task in ("reverse", "add"):
        run = config.out / task
        metrics = train(TrainConfig(task=task, output=run, steps=config.steps, seed=config.seed,
                                    eval_size=config.eval_size, overwrite=True,
                                    length=8 if task == "reverse" else 3))
        model, spec = load_run(run)
        pairs = spec.examples(rng.randint(0, 10**6), 4, held_out=True)
        lines = [" ".join(s) if task == "reverse" else _add_line(spec, s) for s, _ in pairs]
        examples = list(zip(lines, predict_lines(model, spec, lines), strict=True))
        say(f"\n{task}: {config.steps} steps in {metrics['train_seconds']:.1f} s, held-out exact "
            f"match {metrics['exact_match']:.3f} on {metrics['eval_size']} inputs never trained on")
        for line, answer in examples:
            say(f"  {line:24s} -> {answer}")
        results[task] = metrics

    model, spec = load_run(config.out / "reverse")
    maps, source, target = attention_maps(model, spec, "3 9 1 4 7")
    paths = plot_attention({"decoder.1.cross": maps["decoder.1.cross"]}, source, target,
                           config.out / "attention")
    say(f"\nheatmap of the last decoder layer's cross-attention on '3 9 1 4 7': {paths[0]}")
    say("  (each output position looks at the mirrored input position: the anti-diagonal)")
    return {"reverse_exact_match": results["reverse"]["exact_match"],
            "add_exact_match": results["add"]["exact_match"],
            "mha_max_abs_diff": checks["mha_max_abs_diff"],
            "transformer_max_abs_diff": checks["transformer_max_abs_diff"],
            "grad_max_abs_diff": checks["grad_max_abs_diff"],
            "seconds": round(time.perf_counter() - start, 2)}


def _add_line(task, source: list[str]) -> str:
    a, b = task.operands(source)
    return f"{a} + {b}"
