"""The gateway as an ASGI app: auth -> limits -> cache -> route with fallback -> relay -> account.

One request's path through `Gateway.handle`:
1. body checks (JSON only, size cap), the API key (401), the model's route (404 lists models);
2. every limit of the key and its tenant taken in one atomic step (429 + Retry-After), with the
   token cost estimated up front (prompt characters / 4 + max_tokens) and corrected from usage;
3. a temperature-0 request looks in the tenant's semantic cache (`x-gateway-cache: hit|miss`);
4. backends tried in smooth-WRR order, skipping open breakers, retrying 5xx/timeouts/refusals
   with jittered backoff, never 4xx (502 names every attempt when all fail);
5. the reply relayed (SSE chunk by chunk for streams; a client disconnect closes the upstream),
   usage counted (the backend's, or our tokenizer's count when it sends none), metrics, a span
   with GenAI attributes, a redacted JSONL log line.
While draining after SIGTERM, `/ready` and new requests answer 503 and open streams finish.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import generate_latest

from .backends import BackendError, EmbeddedBackend, HttpBackend, UpstreamClientError
from .cache import SemanticCache
from .config import GatewayConfig, LimitSpec
from .keys import KeyRecord, KeyStore
from .limits import Bucket, LimiterUnavailable, MemoryLimiter, RedisLimiter
from .redact import redact_obj
from .router import Router
from .telemetry import Metrics, extract, inject, make_tracer

PATHS = {"/v1/chat/completions": "/chat/completions", "/v1/completions": "/completions"}


def error(status: int, message: str, kind: str, code: str | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    """An OpenAI-style error body, which the openai client turns into its exception classes."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": None,
                                   "code": code}}, status_code=status, headers=headers)


def _text_of(body: dict[str, Any]) -> str:
    if "messages" in body:
        return " ".join(str(m.get("content") or "") for m in body["messages"]
                        if isinstance(m, dict))
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else json.dumps(prompt)


def estimate_tokens(body: dict[str, Any]) -> int:
    """Up-front token charge: about 4 characters per prompt token, plus the most it may write."""
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 256
    return math.ceil(len(_text_of(body)) / 4) + int(max_tokens)


def buckets_for(key: KeyRecord, tenant: LimitSpec | None, cost: int) -> list[Bucket]:
    found = []
    for scope, limits in ((f"key:{key.id}", key), (f"tenant:{key.tenant}", tenant)):
        if limits is None:
            continue
        if limits.rpm:
            found.append(Bucket(f"rpm:{scope}", limits.rpm, limits.rpm / 60, 1))
        if limits.tpm:
            found.append(Bucket(f"tpm:{scope}", limits.tpm, limits.tpm / 60, cost))
        if limits.token_quota:
            found.append(Bucket(f"quota:{scope}", limits.token_quota, 0, cost, kind="quota"))
    return found


class Gateway:
    def __init__(self, config: GatewayConfig, *, keys: KeyStore | None = None,
                 limiter: Any = None, cache: SemanticCache | None = None,
                 tracer_provider: Any = None, count_tokens: Any = None) -> None:
        self.config = config
        self.keys = keys or KeyStore(config.db)
        self.limiter = limiter or (RedisLimiter(config.redis_url) if config.redis_url
                                   else MemoryLimiter())
        self.cache = cache
        self.metrics = Metrics()
        self.tracer = make_tracer(tracer_provider)
        self.router = Router(config.routes, {b.name: b.weight for b in config.backends},
                             failures_to_open=config.breaker_failures,
                             cooldown_s=config.breaker_cooldown_s,
                             attempts=config.retry_attempts, backoff_s=config.retry_backoff_s)
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256,
                                                            max_keepalive_connections=64))
        self.backends: dict[str, Any] = {}
        for spec in config.backends:
            self.backends[spec.name] = (EmbeddedBackend(spec) if spec.url == "embedded"
                                        else HttpBackend(spec, self.client))
        self._count_tokens = count_tokens
        self.draining = False
        self.in_flight = 0
        # Open for the gateway's lifetime (closed in `close`), so no context manager here.
        self._log = (open(config.log_path, "a", encoding="utf-8")  # noqa: SIM115
                     if config.log_path else None)

    # -- accounting -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Our own count when a backend sends no usage: SmolLM2's tokenizer, loaded on first use."""
        if self._count_tokens is None:
            from llm_shared import load_tokenizer

            tokenizer = load_tokenizer()
            self._count_tokens = lambda t: len(tokenizer(t)["input_ids"])
        return self._count_tokens(text)

    async def _settle(self, buckets: list[Bucket], estimate: int, used: int) -> None:
        for bucket in buckets:
            if bucket.key.startswith(("tpm:", "quota:")) and used != estimate:
                await self.limiter.adjust(bucket, estimate - used)

    def _write_log(self, record: dict[str, Any]) -> None:
        if self._log is not None:
            self._log.write(json.dumps(redact_obj(record), ensure_ascii=False) + "\n")
            self._log.flush()

    # -- the request path --------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        if self.draining:
            return error(503, "the gateway is shutting down; retry on another instance",
                         "server_error", "shutting_down")
        self.in_flight += 1
        streaming = False
        try:
            response = await self._handle(request, path)
            streaming = isinstance(response, StreamingResponse)
            return response
        finally:
            if not streaming:  # a stream leaves in-flight when its last chunk is sent
                self.in_flight -= 1

    async def _read_body(self, request: Request) -> dict[str, Any] | Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error(415, "send the body as application/json", "invalid_request_error")
        length = request.headers.get("content-length")
        limit = self.config.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return error(413 if length.isdigit() else 400,
                         f"body over {self.config.max_body_bytes} bytes or bad Content-Length",
                         "invalid_request_error")
        raw = b""
        async for part in request.stream():
            raw += part
            if len(raw) > self.config.max_body_bytes:
                return error(413, f"body over {self.config.max_body_bytes} bytes",
                             "invalid_request_error")
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "the body is not valid JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object", "invalid_request_error")
        return body

    def _authenticate(self, request: Request) -> KeyRecord | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        return self.keys.authenticate(token)

    async def _handle(self, request: Request, path: str) -> Response:
        start = time.perf_counter()
        key = self._authenticate(request)
        if key is None:
            return error(401, "missing or invalid API key; pass Authorization: Bearer sk-...",
                         "invalid_request_error", "invalid_api_key")
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        if model not in self.config.routes:
            return error(404, f"model {model!r} is not served here; models: "
                         f"{self.router.models()}", "invalid_request_error", "model_not_found")
        if path == "/chat/completions" and not isinstance(body.get("messages"), list):
            return error(400, "`messages` must be a list", "invalid_request_error")
        estimate = estimate_tokens(body)
        buckets = buckets_for(key, self.config.tenants.get(key.tenant), estimate)
        try:
            decision = await self.limiter.take(buckets)
        except LimiterUnavailable:
            if not self.config.redis_fail_open:
                return error(503, "the rate limiter (Redis) is unreachable; retry shortly",
                             "server_error", "limiter_unavailable")
            decision, buckets = None, []
        if decision is not None and not decision.allowed:
            bucket = decision.refused
            quota = bucket.kind == "quota" or decision.retry_after_s == 0
            self.metrics.rate_limited.labels(key.tenant, bucket.key.split(":")[0]).inc()
            self.metrics.requests.labels(key.tenant, model, "-", "429").inc()
            headers = {} if quota else {"retry-after": str(decision.retry_after_s)}
            return error(429, f"limit {bucket.key} reached" + (
                "" if quota else f"; retry after {decision.retry_after_s} s"),
                "insufficient_quota" if quota else "requests",
                "insufficient_quota" if quota else "rate_limit_exceeded", headers)

        cacheable = (self.cache is not None and body.get("temperature") == 0
                     and int(body.get("n") or 1) == 1)
        messages = body.get("messages") or [{"role": "user", "content": _text_of(body)}]
        if cacheable:
            hit = await asyncio.to_thread(self.cache.lookup, key.tenant, model, messages)
            if hit is not None:
                await self._settle(buckets, estimate, 0)
                self.metrics.cache_hits.labels(key.tenant, model).inc()
                self.metrics.requests.labels(key.tenant, model, "cache", "200").inc()
                headers = {"x-gateway-cache": "hit", "x-gateway-backend": "cache"}
                if body.get("stream"):
                    return self._replay_stream(hit.response, path, headers, key, model)
                return JSONResponse(hit.response, headers=headers)

        context = extract(dict(request.headers))
        span = self.tracer.start_span(f"chat {model}", context=context, kind=SpanKind.CLIENT,
                                      attributes={"gen_ai.operation.name": "chat"
                                                  if path == "/chat/completions"
                                                  else "text_completion",
                                                  "gen_ai.request.model": model})
        cache_header = "miss" if cacheable else "bypass"
        try:
            if body.get("stream"):
                return await self._stream(body, path, key, model, buckets, estimate, span,
                                          start, cache_header)
            return await self._complete(body, path, key, model, buckets, estimate, span, start,
                                        cacheable, messages, cache_header)
        except UpstreamClientError as exc:
            span.set_status(Status(StatusCode.ERROR, "client error"))
            span.end()
            await self._settle(buckets, estimate, 0)
            self.metrics.requests.labels(key.tenant, model, "-", str(exc.status)).inc()
            return JSONResponse(exc.body, status_code=exc.status)
        except AllBackendsFailed as exc:
            span.set_status(Status(StatusCode.ERROR, "all backends failed"))
            span.end()
            await self._settle(buckets, estimate, 0)
            self.metrics.requests.labels(key.tenant, model, "-", "502").inc()
            return error(502, f"every backend failed: {'; '.join(exc.attempts)}",
                         "server_error", "backends_unavailable")

    async def _attempts(self, model: str, span: Any, call) -> tuple[str, Any]:
        """Run `call(backend, headers)` on backends in routing order until one succeeds."""
        tried: list[str] = []
        failures: list[str] = []
        for attempt in range(1, self.router.attempts + 1):
            name = self.router.next_backend(model, set(tried))
            if name is None:
                failures.append("no backend with a closed circuit")
                break
            breaker = self.router.breakers[name]
            breaker.on_attempt()
            tried.append(name)
            spec = self.backends[name].spec
            with self.tracer.start_as_current_span(
                    f"attempt {name}", context=_span_context(span),
                    attributes={"gen_ai.provider.name": "embedded" if spec.url == "embedded"
                                else "openai", "server.address": spec.url,
                                "llm_gateway.attempt": attempt}) as child:
                headers: dict[str, str] = {}
                inject(headers)  # traceparent of this attempt, for the backend
                try:
                    result = await call(self.backends[name], headers)
                except BackendError as exc:
                    breaker.on_failure()
                    child.set_status(Status(StatusCode.ERROR, exc.reason))
                    failures.append(f"{name}: {exc.reason}")
                    if attempt < self.router.attempts:
                        await asyncio.sleep(self.router.backoff(attempt))
                    continue
                except UpstreamClientError:
                    breaker.on_success()  # the backend is healthy; the request was wrong
                    raise
            breaker.on_success()
            return name, result
        raise AllBackendsFailed(failures)

    def _upstream_body(self, body: dict, backend: Any, model: str) -> dict:
        return {**body, "model": backend.spec.model or model}

    async def _complete(self, body, path, key, model, buckets, estimate, span, start,
                        cacheable, messages, cache_header) -> Response:
        name, reply = await self._attempts(model, span, lambda b, h: b.complete(
            path, self._upstream_body(body, b, model), h))
        usage = reply.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        if prompt_tokens is None or completion_tokens is None:
            choices = reply.get("choices") or [{}]
            text = (choices[0].get("message") or {}).get("content") or choices[0].get("text", "")
            prompt_tokens = self.count_tokens(_text_of(body))
            completion_tokens = self.count_tokens(text or "")
        await self._settle(buckets, estimate, prompt_tokens + completion_tokens)
        if cacheable:
            await asyncio.to_thread(self.cache.store, key.tenant, model, messages, reply)
        finish = [c.get("finish_reason") for c in reply.get("choices", [])]
        self._finish(span, key, model, name, 200, reply.get("model"), prompt_tokens,
                     completion_tokens, finish, start)
        self._write_log({"tenant": key.tenant, "key_id": key.id, "model": model,
                         "backend": name, "status": 200, "request": body, "reply": reply,
                         "seconds": round(time.perf_counter() - start, 4)})
        return JSONResponse(reply, headers={"x-gateway-backend": name,
                                            "x-gateway-cache": cache_header})

    async def _stream(self, body, path, key, model, buckets, estimate, span, start,
                      cache_header) -> Response:
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        upstream = {**body, "stream_options": {"include_usage": True}}
        name, chunks = await self._attempts(model, span, lambda b, h: b.open_stream(
            path, self._upstream_body(upstream, b, model), h))

        async def relay() -> AsyncIterator[bytes]:
            usage, finish, text, first = None, [], [], None
            status = "200"
            try:
                async for payload in chunks:
                    if payload == "[DONE]":
                        break
                    try:
                        data = json.loads(payload)
                    except ValueError:
                        continue
                    if data.get("usage"):
                        usage = data["usage"]
                        if not data.get("choices") and not wants_usage:
                            continue  # we asked for usage; the client did not
                    for choice in data.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or choice.get("text")
                        if piece:
                            text.append(piece)
                            if first is None:
                                first = time.perf_counter()
                                self.metrics.ttft.labels(model).observe(first - start)
                        if choice.get("finish_reason"):
                            finish.append(choice["finish_reason"])
                    yield f"data: {payload}\n\n".encode()
                yield b"data: [DONE]\n\n"
            except (asyncio.CancelledError, GeneratorExit):
                status = "499"  # the client went away; closing `chunks` cancels the upstream
                raise
            except BackendError as exc:
                status = "502"
                yield f"data: {json.dumps({'error': {'message': str(exc)}})}\n\n".encode()
            finally:
                # Shielded: after a disconnect, anyio cancels every await in this scope, and the
                # upstream must still be closed and the tokens still counted.
                with anyio.CancelScope(shield=True):
                    await self._after_stream(chunks, body, buckets, estimate, span, key, model,
                                             name, status, usage, text, finish, start)

        return StreamingResponse(relay(), media_type="text/event-stream",
                                 headers={"x-gateway-backend": name,
                                          "x-gateway-cache": cache_header})

    async def _after_stream(self, chunks, body, buckets, estimate, span, key, model, name, status,
                            usage, text, finish, start) -> None:
        try:
            await chunks.aclose()
            if usage:
                prompt_tokens = usage.get("prompt_tokens", 0)
                completion_tokens = usage.get("completion_tokens", 0)
            else:
                prompt_tokens = self.count_tokens(_text_of(body))
                completion_tokens = self.count_tokens("".join(text))
            await self._settle(buckets, estimate, prompt_tokens + completion_tokens)
            self._finish(span, key, model, name, int(status), model, prompt_tokens,
                         completion_tokens, finish, start)
            self._write_log({"tenant": key.tenant, "key_id": key.id, "model": model,
                             "backend": name, "status": int(status), "stream": True,
                             "request": body, "reply_text": "".join(text),
                             "seconds": round(time.perf_counter() - start, 4)})
        finally:
            self.in_flight -= 1

    def _replay_stream(self, reply: dict, path: str, headers: dict[str, str], key: KeyRecord,
                       model: str) -> Response:
        choice = (reply.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or choice.get("text", "")
        chat = path == "/chat/completions"
        chunk = {"id": reply.get("id"), "model": reply.get("model"), "created": reply.get(
            "created"), "object": "chat.completion.chunk" if chat else "text_completion",
            "choices": [{"index": 0, "finish_reason": choice.get("finish_reason"),
                         **({"delta": {"role": "assistant", "content": text}} if chat
                            else {"text": text})}]}

        async def replay() -> AsyncIterator[bytes]:
            try:
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                yield b"data: [DONE]\n\n"
            finally:
                self.in_flight -= 1

        return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)

    def _finish(self, span, key, model, backend, status, response_model, prompt_tokens,
                completion_tokens, finish, start) -> None:
        span.set_attribute("gen_ai.response.model", response_model or model)
        span.set_attribute("gen_ai.usage.input_tokens", int(prompt_tokens))
        span.set_attribute("gen_ai.usage.output_tokens", int(completion_tokens))
        span.set_attribute("gen_ai.response.finish_reasons", [str(f) for f in finish])
        span.set_attribute("gen_ai.provider.name", "embedded"
                           if self.backends[backend].spec.url == "embedded" else "openai")
        span.end()
        self.metrics.requests.labels(key.tenant, model, backend, str(status)).inc()
        self.metrics.tokens.labels(key.tenant, model, "input").inc(prompt_tokens)
        self.metrics.tokens.labels(key.tenant, model, "output").inc(completion_tokens)
        self.metrics.duration.labels(model).observe(time.perf_counter() - start)

    async def ready(self) -> bool:
        if self.draining:
            return False
        if not any(b.state != "open" for b in self.router.breakers.values()):
            return False
        return self.config.redis_fail_open or await self.limiter.ping()

    async def close(self) -> None:
        await self.client.aclose()
        if hasattr(self.limiter, "close"):
            await self.limiter.close()
        if self._log is not None:
            self._log.close()


class AllBackendsFailed(Exception):
    def __init__(self, attempts: list[str]) -> None:
        super().__init__("; ".join(attempts))
        self.attempts = attempts


def _span_context(span: Any) -> Any:
    from opentelemetry import trace

    return trace.set_span_in_context(span)


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="llm-gateway", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Response:
        ok = await gateway.ready()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        for name, breaker in gateway.router.breakers.items():
            gateway.metrics.backend_up.labels(name).set(1 if breaker.state == "closed" else 0)
        return Response(generate_latest(gateway.metrics.registry),
                        media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        if gateway._authenticate(request) is None:
            return error(401, "missing or invalid API key; pass Authorization: Bearer sk-...",
                         "invalid_request_error", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "llm-gateway"}
            for m in gateway.router.models()]})

    for public, internal in PATHS.items():
        async def endpoint(request: Request, _path: str = internal) -> Response:
            return await gateway.handle(request, _path)
        app.add_api_route(public, endpoint, methods=["POST"])

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return error(500, "internal error in the gateway; see its log", "server_error")

    return app
