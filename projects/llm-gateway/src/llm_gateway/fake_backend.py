"""A deterministic OpenAI-compatible backend for tests, the demo and the bench.

It answers `echo: <last user message>` (so a test can tell which request an answer belongs to),
reports usage as word counts, streams one word per chunk, and can be told to fail a share of
requests with 500 (`fail_rate`, seeded) or to wait (`latency_ms`) before answering. Its own
counters (`/stats`) let tests see how many requests reached it and how many streams were
cancelled midway.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


def _last_user_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        users = [m for m in body["messages"] if m.get("role") == "user"] or body["messages"]
        return str(users[-1].get("content", "")) if users else ""
    return str(body.get("prompt", ""))


def create_fake_backend(*, fail_rate: float = 0.0, latency_ms: float = 0.0, seed: int = 0,
                        name: str = "fake", stream_delay_ms: float = 0.0,
                        usage: bool = True) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    rng = random.Random(seed)
    stats = {"requests": 0, "failed": 0, "streams_started": 0, "streams_finished": 0,
             "streams_cancelled": 0, "traceparents": []}
    app.state.stats = stats
    app.state.fail_rate = fail_rate

    @app.get("/stats")
    async def get_stats() -> dict[str, Any]:
        return {**stats, "traceparents": stats["traceparents"][-5:]}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "fake"}]}

    async def answer(request: Request, chat: bool) -> Response:
        body = await request.json()
        stats["requests"] += 1
        if request.headers.get("traceparent"):
            stats["traceparents"].append(request.headers["traceparent"])
            del stats["traceparents"][:-50]  # bounded: the fake may serve a long bench
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            return JSONResponse({"error": {"message": "max_tokens must be >= 1", "param":
                                           "max_tokens", "type": "invalid_request_error",
                                           "code": None}}, status_code=400)
        if rng.random() < app.state.fail_rate:
            stats["failed"] += 1
            return JSONResponse({"error": {"message": "injected failure", "type": "server_error",
                                           "param": None, "code": None}}, status_code=500)
        text = "echo: " + _last_user_text(body)
        words = text.split(" ")
        if max_tokens:
            words = words[:max_tokens]
        prompt_tokens = len(_last_user_text(body).split())
        use = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
               "total_tokens": prompt_tokens + len(words)}
        rid, created = f"fake-{stats['requests']}", int(time.time())
        if not body.get("stream"):
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
            if chat:
                choice["message"] = {"role": "assistant", "content": " ".join(words)}
            else:
                choice["text"] = " ".join(words)
            reply = {"id": rid, "object": "chat.completion" if chat else "text_completion",
                     "created": created, "model": body.get("model", name), "choices": [choice]}
            if usage:
                reply["usage"] = use
            return JSONResponse(reply, headers={"x-fake-backend": name})
        include_usage = usage and (body.get("stream_options") or {}).get("include_usage")

        async def chunks() -> AsyncIterator[bytes]:
            stats["streams_started"] += 1
            try:
                for index, word in enumerate(words):
                    piece = word if index == 0 else " " + word
                    choice = {"index": 0, "finish_reason": None,
                              **({"delta": {"content": piece}} if chat else {"text": piece})}
                    data = {"id": rid, "object": "chat.completion.chunk", "created": created,
                            "model": body.get("model", name), "choices": [choice]}
                    yield f"data: {json.dumps(data)}\n\n".encode()
                    if stream_delay_ms:
                        await asyncio.sleep(stream_delay_ms / 1000)
                last = {"index": 0, "finish_reason": "stop",
                        **({"delta": {}} if chat else {"text": ""})}
                yield f"data: {json.dumps({'id': rid, 'choices': [last]})}\n\n".encode()
                if include_usage:
                    tail = {"id": rid, "choices": [], "usage": use}
                    yield f"data: {json.dumps(tail)}\n\n".encode()
                yield b"data: [DONE]\n\n"
                stats["streams_finished"] += 1
            except asyncio.CancelledError:
                stats["streams_cancelled"] += 1
                raise

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await answer(request, True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await answer(request, False)

    return app
