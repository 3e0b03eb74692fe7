"""Where the per-batch work runs: in process, in a local worker pool, or as Ray Data on a cluster.

Both engines expose `map(fn, batches) -> iterator of fn(batch)` *in input order*, over a stream
of text batches, holding only a window of batches at a time (so the input can be any size). The
functions are the same objects everywhere (`index_batch` with its params, `FilterStage`), which
is why the engines give identical outputs; the order-dependent bookkeeping (first occurrence
wins, union-find) stays on the driver.

Ray: each window becomes a `ray.data.Dataset` with one row (and one block) per batch, mapped as
tasks (or, for a stage holding a model, by an actor pool of `_Apply`, so the model loads once per
actor), then collected and sorted by batch number. `ray.init` joins `--ray-address` or an
already initialised cluster, or starts a local one. Leaves out Ray's own file readers: the
driver streams the inputs so that malformed-line accounting is the same on both engines.
Exercised by `minhash-dedup run corpus --output out --engine ray`.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from llm_shared import UserError


def windows(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class LocalEngine:
    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map(self, fn: Callable[[list[str]], Any], batches: Iterable[list[str]]) -> Iterator[Any]:
        if self.workers == 1:
            yield from map(fn, batches)
            return
        # fork: workers inherit the imported modules; spawn would re-import numpy/torch each time
        with multiprocessing.get_context("fork").Pool(self.workers) as pool:
            for window in windows(batches, 2 * self.workers):
                yield from pool.map(fn, window)


def _apply_row(row: dict[str, Any], fn_bytes: bytes) -> dict[str, Any]:
    """Ray Data task: one batch per row, run by Ray's pooled workers (imports paid once each)."""
    fn = pickle.loads(fn_bytes)
    return {"batch": row["batch"], "result": pickle.dumps(fn(list(row["texts"])))}


class _Apply:
    """Ray Data actor: unpickles the function once, then maps one batch per row."""

    def __init__(self, fn_bytes: bytes) -> None:
        self.fn = pickle.loads(fn_bytes)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"batch": row["batch"], "result": pickle.dumps(self.fn(list(row["texts"])))}


class RayEngine:
    name = "ray"

    def __init__(self, address: str = "", workers: int = 1) -> None:
        # Under `uv run`, Ray would rebuild this workspace member for every worker from a copy of
        # the working directory, which fails (the copy is outside the uv workspace). The local
        # cluster's workers already run this interpreter, so keep them on it.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a declared dependency
            raise UserError("--engine ray needs the `ray[data]` package; run `uv sync`") from exc
        if not ray.is_initialized():
            try:
                ray.init(address=address or None, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                raise UserError(f"cannot reach the Ray cluster at '{address}' ({exc}); start "
                                "it with `ray start --head` or drop --ray-address") from exc
        self.ray = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.actors = max(1, min(workers if workers > 1 else cpus, cpus))
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False

    def map(self, fn: Callable[[list[str]], Any], batches: Iterable[list[str]]) -> Iterator[Any]:
        fn_bytes = pickle.dumps(fn)
        # A function with a model inside (a model toxicity scorer) runs in an actor pool so the
        # model loads once per actor; pure functions run as tasks on Ray's pooled workers.
        stateful = getattr(fn, "stateful", False)
        for window in windows(batches, 4 * self.actors):
            rows = [{"batch": k, "texts": texts} for k, texts in enumerate(window)]
            ds = self.ray.data.from_items(rows, override_num_blocks=len(rows))
            if stateful:
                ds = ds.map(_Apply, fn_constructor_args=(fn_bytes,), concurrency=self.actors,
                            num_cpus=1)
            else:
                ds = ds.map(_apply_row, fn_kwargs={"fn_bytes": fn_bytes}, num_cpus=1)
            done = sorted(ds.take_all(), key=lambda r: r["batch"])
            yield from (pickle.loads(r["result"]) for r in done)


def make_engine(engine: str, workers: int = 1, address: str = "") -> LocalEngine | RayEngine:
    return RayEngine(address, workers) if engine == "ray" else LocalEngine(workers)
