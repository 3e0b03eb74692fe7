"""The OpenAI-compatible HTTP server: /v1/models, /v1/completions, /v1/chat/completions, SSE.

`create_app(engine)` builds a FastAPI app over an `AsyncEngine`; `serve(config)` runs it with
uvicorn until SIGINT/SIGTERM (uvicorn's handlers stop accepting, finish open responses for a few
seconds, then the lifespan hook stops the engine thread). Behaviour a client can rely on:
- a full queue (`--max-queue` requests in flight) answers 429 with an OpenAI-style error;
- a malformed or unsupported request answers 400 `{"error": {...}}` naming the field;
- a client that disconnects (streaming or not) has its sequences aborted, blocks freed at once;
- `/metrics` is Prometheus text; `/health` is JSON with the block accounting.
Leaves out authentication, TLS and tool calling. Exercised by `tests/test_server.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from llm_shared import UserError
from prometheus_client import CONTENT_TYPE_LATEST

from .async_engine import AsyncEngine
from .engine import LLMEngine, RequestOutput
from .metrics import ServerMetrics
from .protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    chat_logprobs,
    completion_logprobs,
    error_body,
)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


class _Call:
    """One HTTP request's sequences: prompts x n choices, all feeding one queue."""

    def __init__(self, app_state: Any, prompts: list[list[int]], params: Any, chat: bool,
                 http: Request) -> None:
        self.s = app_state
        self.chat, self.http, self.params = chat, http, params
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())
        self.queue: asyncio.Queue = asyncio.Queue()
        self.ids = [f"{self.id}-{i}" for i in range(len(prompts))]
        self.prompt_tokens = sum(len(p) for p in prompts)
        self.n = params.n
        self.streaming = False
        self.start = time.perf_counter()
        self.first: dict[int, float] = {}
        for rid, ids in zip(self.ids, prompts, strict=True):
            self.s.engine.add(rid, ids, params, self.queue)
        self.s.metrics.prompt_tokens.inc(self.prompt_tokens)

    def choice_index(self, out: RequestOutput) -> int:
        return self.ids.index(out.request_id) * self.n + out.index

    async def outputs(self) -> AsyncIterator[RequestOutput]:
        """Every step output until all choices finish; aborts everything on exit or disconnect."""
        remaining = len(self.ids) * self.n
        checked = time.perf_counter()
        try:
            while remaining:
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout=0.5)
                except TimeoutError:
                    item = None
                # A non-streaming client is only noticed gone by asking; a streaming one is
                # noticed by Starlette, which closes our generator (see `stream`).
                if not self.streaming and time.perf_counter() - checked > 0.5:
                    checked = time.perf_counter()
                    if await self.http.is_disconnected():
                        return
                if item is None:
                    continue
                if isinstance(item, UserError):
                    raise ApiError(400, str(item))
                if isinstance(item, BaseException):
                    raise ApiError(500, f"engine failure: {item!r}", "internal_error")
                index = self.choice_index(item)
                now = time.perf_counter()
                if index not in self.first:
                    self.first[index] = now
                    self.s.metrics.ttft.observe(now - self.start)
                self.s.metrics.generation_tokens.inc(len(item.new_token_ids))
                if item.finished:
                    remaining -= 1
                    self.s.metrics.requests.labels(item.finish_reason).inc()
                    self.s.metrics.e2e.observe(now - self.start)
                    if item.num_output_tokens > 1:
                        self.s.metrics.tpot.observe((now - self.first[index])
                                                    / (item.num_output_tokens - 1))
                yield item
        finally:
            self.close()

    def close(self) -> None:
        for rid in self.ids:  # no-op for finished requests; frees the blocks of the rest
            self.s.engine.abort(rid)

    def usage(self, completion_tokens: int) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": self.prompt_tokens + completion_tokens}

    def logprobs(self, entries: list[dict], text_start: int = 0) -> dict | None:
        if self.params.logprobs is None:
            return None
        tok = self.s.tokenizer
        return chat_logprobs(tok, entries) if self.chat else completion_logprobs(tok, entries,
                                                                                  text_start)

    def chunk(self, choices: list[dict], usage: dict | None = None) -> dict:
        obj = {"id": self.id, "object": "chat.completion.chunk" if self.chat else "text_completion",
               "created": self.created, "model": self.s.model_name, "choices": choices}
        if usage is not None:
            obj["usage"] = usage
        return obj

    async def collect(self) -> dict[str, Any]:
        total = len(self.ids) * self.n
        texts, reasons = [""] * total, [None] * total
        entries: list[list[dict]] = [[] for _ in range(total)]
        completion_tokens = 0
        async for out in self.outputs():
            i = self.choice_index(out)
            texts[i] += out.text_delta
            entries[i] += out.new_logprobs
            completion_tokens += len(out.new_token_ids)
            if out.finished:
                reasons[i] = out.finish_reason
        if any(r is None for r in reasons):  # the client went away
            raise asyncio.CancelledError
        choices = []
        for i in range(total):
            if self.chat:
                choice = {"index": i, "message": {"role": "assistant", "content": texts[i]}}
            else:
                choice = {"index": i, "text": texts[i]}
            choice["logprobs"] = self.logprobs(entries[i])
            choice["finish_reason"] = reasons[i]
            choices.append(choice)
        return {"id": self.id, "object": "chat.completion" if self.chat else "text_completion",
                "created": self.created, "model": self.s.model_name, "choices": choices,
                "usage": self.usage(completion_tokens)}

    async def stream(self, include_usage: bool) -> AsyncIterator[str]:
        self.streaming = True
        completion_tokens = 0
        offsets = [0] * (len(self.ids) * self.n)
        try:
            if self.chat:
                yield _sse(self.chunk([{"index": i, "delta": {"role": "assistant", "content": ""},
                                        "logprobs": None, "finish_reason": None}
                                       for i in range(len(offsets))]))
            async for out in self.outputs():
                completion_tokens += len(out.new_token_ids)
                if not (out.text_delta or out.finished or out.new_logprobs):
                    continue
                i = self.choice_index(out)
                logprobs = self.logprobs(out.new_logprobs, offsets[i])
                offsets[i] += len(out.text_delta)
                if self.chat:
                    choice = {"index": i, "delta": {"content": out.text_delta}}
                else:
                    choice = {"index": i, "text": out.text_delta}
                choice["logprobs"] = logprobs
                choice["finish_reason"] = out.finish_reason if out.finished else None
                yield _sse(self.chunk([choice]))
            if include_usage:
                yield _sse(self.chunk([], self.usage(completion_tokens)))
            yield "data: [DONE]\n\n"
        except ApiError as exc:
            yield _sse(error_body(exc.message, exc.kind))
        finally:  # a disconnect closes this generator at a yield: abort right here
            self.close()


def create_app(engine: LLMEngine, *, model_name: str = "", max_queue: int = 256,
               default_max_tokens: int = 256) -> FastAPI:
    async_engine = AsyncEngine(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        async_engine.start()
        yield
        async_engine.stop()

    app = FastAPI(title="paged-kv-server", lifespan=lifespan)
    state = app.state
    state.engine, state.llm, state.tokenizer = async_engine, engine, engine.tokenizer
    state.metrics = ServerMetrics(engine)
    state.model_name = model_name or engine.config.model
    state.max_queue, state.default_max_tokens = max_queue, default_max_tokens

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.kind, exc.param, exc.status),
                            status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = f"{param}: {first['msg']}" if param else first["msg"]
        return JSONResponse(error_body(message, param=param, code=400), status_code=400)

    @app.get("/health")
    async def health() -> JSONResponse:
        if async_engine.error is not None:
            return JSONResponse({"status": "error", "error": repr(async_engine.error)}, 503)
        return JSONResponse({"status": "ok", **engine.stats()})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{
            "id": state.model_name, "object": "model", "created": int(time.time()),
            "owned_by": "paged-kv-server", "max_model_len": engine.max_model_len}]}

    def _admit(body: Any, prompts: list[list[int]], http: Request, chat: bool,
               logprobs: int | None) -> _Call:
        if body.model not in (None, state.model_name, engine.config.model):
            raise ApiError(404, f"the model '{body.model}' does not exist; this server has "
                           f"'{state.model_name}' (see /v1/models)", "NotFoundError", "model")
        unsupported = body.unsupported()
        if unsupported:
            raise ApiError(400, f"'{unsupported}' is not supported by this server; remove it",
                           param=unsupported)
        if async_engine.error is not None:
            raise ApiError(503, "the engine has failed; restart the server", "internal_error")
        if async_engine.num_in_flight + len(prompts) * body.n > state.max_queue:
            state.metrics.rejected.inc()
            raise ApiError(429, f"the server is at capacity ({state.max_queue} sequences in "
                           "flight, n per prompt); retry after a short wait", "rate_limit_error")
        try:
            params = body.sampling_params(state.default_max_tokens, logprobs)
            prompts = [engine.encode(p) for p in prompts]
        except UserError as exc:
            raise ApiError(400, str(exc)) from exc
        return _Call(state, prompts, params, chat, http)

    async def _respond(call: _Call, body: Any) -> Any:
        if body.stream:
            include = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(call.stream(include), media_type="text/event-stream")
        with suppress(asyncio.CancelledError):
            return await call.collect()
        return Response(status_code=499)  # client closed the request

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, http: Request) -> Any:
        try:
            prompts = [engine.encode(p) for p in body.prompts()]
        except UserError as exc:
            raise ApiError(400, str(exc), param="prompt") from exc
        call = _admit(body, prompts, http, False, body.logprobs)
        return await _respond(call, body)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatCompletionRequest, http: Request) -> Any:
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        try:
            text = engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                        tokenize=False)
        except Exception as exc:  # noqa: BLE001 (jinja errors: a bad conversation)
            raise ApiError(400, f"the chat template rejected these messages: {exc}",
                           param="messages") from exc
        ids = engine.tokenizer.encode(text, add_special_tokens=False)
        if body.max_completion_tokens and not body.max_tokens:
            body.max_tokens = body.max_completion_tokens
        top = body.top_logprobs or 0
        call = _admit(body, [ids], http, True, top if body.logprobs else None)
        return await _respond(call, body)

    return app


def serve(engine: LLMEngine, *, host: str, port: int, model_name: str, max_queue: int,
          default_max_tokens: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's signal handlers, then the lifespan shutdown)."""
    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after its graceful shutdown (exit status -15); a
            # clean, requested stop should exit 0 instead.
            self._captured_signals.clear()

    app = create_app(engine, model_name=model_name, max_queue=max_queue,
                     default_max_tokens=default_max_tokens)
    _Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                           timeout_graceful_shutdown=5)).run()


class ServerThread:
    """Run the app with uvicorn in a background thread (tests, the demo): `with ServerThread(app)`.

    Port 0 picks a free port; `.url` is the base URL once started.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket
        import threading

        import uvicorn

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
