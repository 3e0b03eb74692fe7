"""Run the capability probes and write the report: pass rates per category with bootstrap CIs.

`run_probes(engine, chain, probes, max_tokens)` asks each probe as a chat turn and checks the
answer; `summarise(results)` gives per-category {passed, total, rate, ci_low, ci_high} (95 %
percentile bootstrap over the probes of that category, fixed seed); `write_report(out, runs)`
writes report.json, answers.jsonl and report.png (one bar group per category, one bar per run,
with the intervals). Answers are appended to `out/.answers.partial.jsonl` as they come, so an
interrupted run continues with `resume=True` and asks only the probes that are missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llm_shared import UserError, atomic_write, track

from .checkers import check
from .engine import Engine
from .probe_suite import CATEGORIES, SUITE
from .samplers import SamplerChain

PARTIAL = ".answers.partial.jsonl"


@dataclass(frozen=True)
class Probe:
    id: str
    category: str
    prompt: str
    kind: str
    arg: Any


def load_suite(categories: str = "", per_category: int = 0) -> list[Probe]:
    """The built-in probes, optionally only some categories / the first N of each."""
    wanted = [c.strip() for c in categories.split(",") if c.strip()] or list(CATEGORIES)
    unknown = [c for c in wanted if c not in CATEGORIES]
    if unknown:
        raise UserError(f"unknown probe categories {unknown}; known: {','.join(CATEGORIES)}")
    probes, seen = [], dict.fromkeys(CATEGORIES, 0)
    for category, prompt, kind, arg in SUITE:
        seen[category] += 1
        if category in wanted and (per_category <= 0 or seen[category] <= per_category):
            probes.append(Probe(f"{category}-{seen[category]:02d}", category, prompt, kind, arg))
    return probes


def run_probes(engine: Engine, chain: SamplerChain, probes: list[Probe], *, max_tokens: int,
               label: str, partial: Path | None = None, resume: bool = False,
               progress: bool = True) -> list[dict[str, Any]]:
    """Answer and check each probe; with `partial`, append each result and reuse earlier ones
    of the same run label, sampler chain and token budget when `resume`."""
    settings = str(chain)
    done: dict[str, dict[str, Any]] = {}
    if partial is not None and resume and partial.is_file():
        for line in partial.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if (row.get("run"), row.get("settings"), row.get("max_tokens")) == \
                    (label, settings, max_tokens):
                done[row["id"]] = row
    results = []
    todo = [p for p in probes if p.id not in done]
    iterator: Any = track(todo, description=f"probes {label}") if progress and todo else todo
    answered = {}
    for probe in iterator:
        ids = engine.encode(probe.prompt, chat=True)
        answer = engine.generate(ids, chain, max_tokens=max_tokens).text.strip()
        row = {"run": label, "settings": settings, "max_tokens": max_tokens, "id": probe.id,
               "category": probe.category,
               "prompt": probe.prompt, "answer": answer,
               "passed": check(probe.kind, probe.arg, answer)}
        answered[probe.id] = row
        if partial is not None:
            with open(partial, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    for probe in probes:
        results.append(done.get(probe.id) or answered[probe.id])
    return results


def bootstrap_ci(passes: list[bool], resamples: int = 2000, seed: int = 0
                 ) -> tuple[float, float]:
    """95 % percentile interval of the pass rate: [1, 1, 0, 1] -> about (0.25, 1.0)."""
    x = np.asarray(passes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)  # (resamples,)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(results: list[dict[str, Any]], resamples: int = 2000) -> dict[str, Any]:
    out = {}
    for category in CATEGORIES:
        passes = [r["passed"] for r in results if r["category"] == category]
        if not passes:
            continue
        low, high = bootstrap_ci(passes, resamples)
        out[category] = {"passed": sum(passes), "total": len(passes),
                         "rate": round(sum(passes) / len(passes), 4),
                         "ci_low": round(low, 4), "ci_high": round(high, 4)}
    return out


def overall_rate(categories: dict[str, Any]) -> float:
    passed = sum(c["passed"] for c in categories.values())
    total = sum(c["total"] for c in categories.values())
    return round(passed / total, 4) if total else 0.0


def write_report(out: Path, runs: list[tuple[str, list[dict[str, Any]]]],
                 resamples: int = 2000) -> dict[str, Any]:
    """report.json ({categories, probes, overall, model, [compare]}), answers.jsonl, report.png."""
    summaries = [(label, summarise(results, resamples), results) for label, results in runs]
    label, cats, results = summaries[0]
    report: dict[str, Any] = {
        "model": label, "settings": results[0]["settings"] if results else "",
        "overall": overall_rate(cats), "categories": cats,
        "probes": [{k: r[k] for k in ("id", "category", "prompt", "passed")} for r in results]}
    if len(summaries) > 1:
        label2, cats2, results2 = summaries[1]
        report["compare"] = {"model": label2, "settings": results2[0]["settings"],
                             "overall": overall_rate(cats2), "categories": cats2,
                             "probes": [{k: r[k] for k in ("id", "category", "passed")}
                                        for r in results2]}
    with atomic_write(out / "report.json") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)
    with atomic_write(out / "answers.jsonl") as handle:
        for _, rows in runs:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    plot_report(out / "report.png", [(lab, c) for lab, c, _ in summaries])
    (out / PARTIAL).unlink(missing_ok=True)
    return report


def plot_report(path: Path, runs: list[tuple[str, dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c for c in CATEGORIES if any(c in cats for _, cats in runs)]
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (label, cats) in enumerate(runs):
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(names))]
        rates = [cats.get(n, {}).get("rate", 0.0) for n in names]
        lows = [r - cats.get(n, {}).get("ci_low", r) for n, r in zip(names, rates, strict=True)]
        highs = [cats.get(n, {}).get("ci_high", r) - r for n, r in zip(names, rates, strict=True)]
        ax.bar(xs, rates, width, yerr=[lows, highs], capsize=3,
               label=f"{label} (overall {overall_rate(cats):.0%})")
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pass rate (95% bootstrap CI)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def prepare_out(out: Path, overwrite: bool, resume: bool) -> Path:
    """Refuse to replace an earlier report unless asked; returns the partial-answers path."""
    if (out / "report.json").exists() and not overwrite:
        raise UserError(f"{out}/report.json exists; pass --overwrite to replace it or another "
                        "--out")
    out.mkdir(parents=True, exist_ok=True)
    partial = out / PARTIAL
    if partial.exists() and not resume:
        partial.unlink()
    return partial

