"""The chapter demo: the whole pipeline on the stdlib sources and docs, explained.

The built-in corpus (pydoc topics, stdlib docstrings, stdlib sources) really holds duplicates:
the generated `encodings/cp*.py` codecs are near copies of each other, many docstrings are
repeated word for word ("Return self==value."), the Lemburg codec headers differ by one name.
The demo runs normalise -> exact -> near -> quality -> PII -> toxicity over it and prints what each
stage removed and why, the largest clusters with their first lines, and the PII it redacted.
Run: `uv run minhash-dedup demo` (the last line is JSON with the count per stage).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from llm_shared import param

from .config import PipelineConfig
from .pipeline import run_pipeline


@dataclass
class DemoConfig:
    kinds: str = param("topics,docstrings,sources", help="corpus kinds to clean")
    threshold: float = param(0.8, help="near-duplicate Jaccard threshold")
    workers: int = param(2, help="local worker processes")
    output: str = param("", help="output folder ('' = a new temporary folder, kept)")


def run_demo(config: DemoConfig) -> dict[str, Any]:
    output = config.output or tempfile.mkdtemp(prefix="minhash-dedup-demo-")
    pipeline = PipelineConfig(threshold=config.threshold, workers=config.workers)
    report = run_pipeline([f"corpus:{config.kinds}"], output, pipeline)
    counts, m = report["counts"], report["minhash"]
    print(f"Cleaned {counts['input']} documents of the built-in corpus ({config.kinds}) "
          f"in {report['run']['seconds']:.1f} s with {config.workers} worker(s).")
    print(f"MinHash LSH: {m['num_perm']} permutations -> {m['bands']} bands x {m['rows']} rows "
          f"for Jaccard >= {m['threshold']} ({m['shingle']} shingles); "
          f"{m.get('candidate_pairs', 0)} candidate pairs.\n")
    print("stage        removed   why")
    for stage in ("malformed", "exact", "near", "quality", "toxicity"):
        reasons = report["reasons"].get(stage, {})
        top = "; ".join(f"{r} ({n})" for r, n in list(reasons.items())[:3])
        if stage == "exact":
            top = "same content after normalisation (case, digits, punctuation, spaces)"
        elif stage == "near":
            top = f"{m.get('near_clusters', 0)} clusters of near-duplicates, first one kept"
        print(f"{stage:<12} {counts[stage]:>7}   {top}")
    print(f"{'kept':<12} {counts['kept']:>7}\n")
    print("Largest near-duplicate clusters (kept document first):")
    for cluster in report["largest_clusters"][:3]:
        print(f"  {cluster['cluster']}: {cluster['size']} documents, kept {cluster['kept']}, "
              f"removed {', '.join(cluster['removed'][:3])}")
        for example in cluster["examples"][:2]:
            print(f"    | {example[:110]}")
    pii = ", ".join(f"{k} {v}" for k, v in report["pii_redacted"].items()) or "none"
    print(f"\nPII redacted in kept documents: {pii}")
    print(f"Outputs: {output}/kept.jsonl, removed.jsonl, report.md, report.json, "
          f"{', '.join(report['plots'])}")
    return {**counts, "pii_redacted": sum(report["pii_redacted"].values()),
            "seconds": report["run"]["seconds"]}
