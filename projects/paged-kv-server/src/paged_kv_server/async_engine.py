"""Runs the engine's `step()` loop in one worker thread and hands results to asyncio handlers.

The HTTP handlers live on the event loop; the model runs in a thread so that a forward pass never
blocks accepting, streaming or disconnect handling. Commands (add, abort) cross into the thread
through a queue and are applied between steps; each step's outputs cross back with
`loop.call_soon_threadsafe` into the request's `asyncio.Queue`. An abort takes effect before the
next step starts, so a disconnected client's blocks are freed within one forward pass.
Leaves out multiple engine replicas and priority scheduling.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .engine import LLMEngine, RequestOutput
from .sampling_params import SamplingParams


@dataclass
class RequestStream:
    """One request's channel from the worker thread to its handler."""

    request_id: str
    num_seqs: int
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    arrival: float = field(default_factory=time.perf_counter)
    num_finished: int = 0


class AsyncEngine:
    def __init__(self, engine: LLMEngine) -> None:
        self.engine = engine
        engine.detokenize_each_step = True  # streaming needs text deltas every step
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._streams: dict[str, RequestStream] = {}
        # Sequences (n per request) in flight, updated from both threads under this lock.
        self._count_lock = threading.Lock()
        self._num_seqs = 0
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self.error: BaseException | None = None

    @property
    def num_in_flight(self) -> int:
        """Sequences in flight: a request with n = 4 counts 4 (what fills the KV cache)."""
        return self._num_seqs

    def _drop(self, request_id: str) -> RequestStream | None:
        with self._count_lock:
            stream = self._streams.pop(request_id, None)
            if stream is not None:
                self._num_seqs -= stream.num_seqs
        return stream

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def add(self, request_id: str, prompt_ids: list[int], params: SamplingParams,
            out: asyncio.Queue | None = None) -> RequestStream:
        """Queue a request (call from the event loop); outputs arrive on `out` (or a new queue)."""
        stream = RequestStream(request_id, params.n, asyncio.get_running_loop())
        if out is not None:
            stream.queue = out
        with self._count_lock:
            self._streams[request_id] = stream
            self._num_seqs += stream.num_seqs
        self._commands.put(("add", request_id, prompt_ids, params))
        self._wake.set()
        return stream

    def abort(self, request_id: str) -> None:
        if self._drop(request_id) is not None:
            self._commands.put(("abort", request_id, None, None))
            self._wake.set()

    def _deliver(self, stream: RequestStream, item: Any) -> None:
        stream.loop.call_soon_threadsafe(stream.queue.put_nowait, item)

    def _apply_commands(self) -> None:
        while True:
            try:
                kind, request_id, prompt_ids, params = self._commands.get_nowait()
            except queue.Empty:
                return
            if kind == "abort":
                self.engine.abort_request(request_id)
                continue
            stream = self._streams.get(request_id)
            if stream is None:  # aborted before it was even added
                continue
            try:
                self.engine.add_request(request_id, prompt_ids, params)
            except Exception as exc:  # noqa: BLE001 (reported to that request only)
                self._drop(request_id)
                self._deliver(stream, exc)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._apply_commands()
                if not self.engine.has_unfinished():
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                self._dispatch(self.engine.step())
        except BaseException as exc:  # a bug in the engine: fail every open request loudly
            self.error = exc
            for stream in list(self._streams.values()):
                self._deliver(stream, exc)
            raise

    def _dispatch(self, outputs: list[RequestOutput]) -> None:
        for out in outputs:
            stream = self._streams.get(out.request_id)
            if stream is None:
                continue
            self._deliver(stream, out)
            if out.finished:
                stream.num_finished += 1
                if stream.num_finished == stream.num_seqs:
                    self._drop(out.request_id)
                    self.engine.requests.pop(out.request_id, None)
