"""The pipeline: two streaming passes over the inputs, outputs written atomically.

Pass 1 (dedup index): documents stream in batches through `index_batch` on the engine; the
driver keeps 16 bytes + b band keys + the id per document, then `finalize()` decides every
exact and near duplicate. Pass 2 (filters and output): the inputs are read again; duplicates and
malformed lines go to removed.jsonl, the rest through `FilterStage` to kept.jsonl or removed.jsonl.
Every input document lands in exactly one of the two files, in input order.

`run_pipeline(["data.jsonl"], "out/", PipelineConfig())` -> the report dict (also report.json,
report.md and PNG histograms in out/). The output folder is built under a temporary name and
renamed at the end, so a failed run never leaves half an output. Leaves out stdin as an input
(it cannot be read twice). Exercised by `minhash-dedup run INPUT --output DIR`.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from llm_shared import atomic_dir, peak_rss_mb, progress_bar

from .config import PipelineConfig
from .dedup import DedupIndex, IndexParams, index_batch
from .engines import make_engine, windows
from .filters import FilterStage
from .readers import Doc, Malformed, check_inputs, iter_inputs
from .report import ReportBuilder


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str) + "\n"


def _pass_one(inputs: Sequence[str], config: PipelineConfig, engine: Any,
              params: IndexParams, bar: Any) -> DedupIndex:
    index = DedupIndex(params)
    pending: collections.deque[list[str]] = collections.deque()

    def text_batches() -> Iterator[list[str]]:
        # Malformed lines are skipped here and accounted for in pass 2, which writes them out.
        docs = (item for item in iter_inputs(inputs, config.text_field, config.id_field)
                if isinstance(item, Doc))
        for chunk in windows(docs, config.batch_size):
            pending.append([d.id for d in chunk])
            yield [d.text for d in chunk]

    task = bar.add_task("dedup index", total=None)
    for result in engine.map(partial(index_batch, params=params), text_batches()):
        ids = pending.popleft()
        index.add(ids, result)
        bar.advance(task, len(ids))
    return index


def run_pipeline(inputs: Sequence[str], output: str | Path,
                 config: PipelineConfig | None = None) -> dict[str, Any]:
    """Run every enabled stage over `inputs`; write kept.jsonl, removed.jsonl, report.* to
    `output`; return the report."""
    config = config or PipelineConfig()
    check_inputs(inputs)
    started = time.perf_counter()
    params = IndexParams.from_config(config)
    engine = make_engine(config.engine, config.workers, config.ray_address)
    report = ReportBuilder(config, params, list(inputs))
    with progress_bar() as bar:
        index = _pass_one(inputs, config, engine, params, bar)
        dedup = index.finalize(config.top_clusters)
        report.dedup(dedup)
        wanted = {p for c in dedup.clusters for p in c["positions"]}
        seconds_index = time.perf_counter() - started
        stage = FilterStage(config)
        pending: collections.deque[tuple[list[Any], list[int]]] = collections.deque()

        def filter_batches() -> Iterator[list[str]]:
            position = 0
            items = iter_inputs(inputs, config.text_field, config.id_field)
            for chunk in windows(items, config.batch_size):
                todo, positions = [], []
                for item in chunk:
                    if isinstance(item, Doc):
                        positions.append(position)
                        if position not in dedup.removed:
                            todo.append(item.text)
                        position += 1
                    else:
                        positions.append(-1)
                pending.append((chunk, positions))
                yield todo

        task = bar.add_task("filters + output", total=len(index.ids))
        with atomic_dir(output) as tmp:
            with open(tmp / "kept.jsonl", "w", encoding="utf-8") as kept, \
                    open(tmp / "removed.jsonl", "w", encoding="utf-8") as removed:
                for outcomes in engine.map(stage, filter_batches()):
                    chunk, positions = pending.popleft()
                    results = iter(outcomes)
                    for item, position in zip(chunk, positions, strict=True):
                        if isinstance(item, Malformed):
                            report.malformed(item)
                            removed.write(_dumps({"id": item.id, "stage": "input",
                                                  "reason": item.reason, "raw": item.raw}))
                            continue
                        if position in wanted:
                            report.example(position, item.text)
                        dup = dedup.removed.get(position)
                        if dup is not None:
                            removed.write(_dumps({"id": item.id, **dup.as_dict(),
                                                  "record": item.record}))
                            continue
                        out = next(results)
                        report.outcome(out)
                        if out.kept:
                            record = dict(item.record)
                            record[config.text_field if config.text_field in record
                                   else "text"] = out.text
                            kept.write(_dumps(record))
                        else:
                            extra = {"toxicity": round(out.toxicity, 4)} \
                                if out.toxicity is not None else {}
                            removed.write(_dumps({"id": item.id, "stage": out.stage,
                                                  "reason": out.reason, **extra,
                                                  "record": item.record}))
                    bar.advance(task, sum(p >= 0 for p in positions))
            seconds = time.perf_counter() - started
            summary = report.finish(tmp, seconds=seconds, seconds_index=seconds_index,
                                    engine=engine.name, peak_rss_mb=peak_rss_mb())
    return summary
