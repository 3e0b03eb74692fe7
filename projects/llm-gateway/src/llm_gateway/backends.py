"""The two kinds of backend: any OpenAI-compatible URL (pooled httpx), or SmolLM2 in-process.

Both speak the same three calls: `complete(path, body)` -> the JSON reply, and `stream(path, body)`
-> an async iterator of SSE `data:` payloads (strings, `[DONE]` last). Failures are sorted here,
because the router needs to know which ones to retry: connection refused, timeouts and 5xx are
`BackendError(retryable=True)`; a 4xx is the client's mistake, passed back as `UpstreamClientError`
with the backend's status and body and never retried on another backend.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .config import BackendSpec


class BackendError(Exception):
    def __init__(self, backend: str, reason: str, *, retryable: bool = True) -> None:
        super().__init__(f"{backend}: {reason}")
        self.backend, self.reason, self.retryable = backend, reason, retryable


class UpstreamClientError(Exception):
    """A 4xx from a backend: the request itself is wrong, so no other backend is tried."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"backend answered {status}")
        self.status, self.body = status, body


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        return body
    return {"error": {"message": response.text[:500] or f"HTTP {response.status_code}",
                      "type": "invalid_request_error", "param": None, "code": None}}


class HttpBackend:
    def __init__(self, spec: BackendSpec, client: httpx.AsyncClient) -> None:
        self.spec, self.name, self._client = spec, spec.name, client

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = dict(extra)
        if self.spec.api_key:
            headers["authorization"] = f"Bearer {self.spec.api_key}"
        return headers

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise BackendError(self.name, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise UpstreamClientError(response.status_code, _error_body(response))

    async def complete(self, path: str, body: dict, headers: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.post(self.spec.url + path, json=body,
                                               headers=self._headers(headers),
                                               timeout=self.spec.timeout_s)
        except httpx.TimeoutException as exc:
            raise BackendError(self.name, f"timeout after {self.spec.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise BackendError(self.name, f"connection failed ({type(exc).__name__})") from exc
        self._check(response)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(self.name, "reply is not JSON") from exc

    async def open_stream(self, path: str, body: dict,
                          headers: dict[str, str]) -> AsyncIterator[str]:
        """Connect and check the status before returning, so a failure can still fall back;
        the returned iterator then yields SSE payloads and closes the upstream when closed."""
        request = self._client.build_request("POST", self.spec.url + path, json=body,
                                             headers=self._headers(headers),
                                             timeout=self.spec.timeout_s)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise BackendError(self.name, f"timeout after {self.spec.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise BackendError(self.name, f"connection failed ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            self._check(response)

        async def payloads() -> AsyncIterator[str]:
            try:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        yield line[5:].strip()
            except httpx.TransportError as exc:
                raise BackendError(self.name, f"stream broke ({type(exc).__name__})") from exc
            finally:
                await response.aclose()  # a client disconnect lands here: upstream cancelled

        return payloads()


class EmbeddedBackend:
    """SmolLM2 (or any causal LM folder) in this process, so the gateway also runs alone.

    One generation at a time (a lock): this is the fallback of last resort on a laptop, not a
    serving engine; put paged-kv-server behind the gateway for throughput.
    """

    def __init__(self, spec: BackendSpec, model_name: str = "smollm2-135m-instruct") -> None:
        from llm_shared import load_causal_lm

        self.spec, self.name = spec, spec.name
        self.model, self.tokenizer = load_causal_lm(model_name)
        self._lock = threading.Lock()

    def _prompt_ids(self, path: str, body: dict) -> list[int]:
        if path == "/chat/completions":
            return self.tokenizer.apply_chat_template(body.get("messages", []),
                                                      add_generation_prompt=True, tokenize=True,
                                                      return_dict=False)
        return self.tokenizer(str(body.get("prompt", "")))["input_ids"]

    def _generate(self, ids: list[int], body: dict, streamer: Any = None) -> list[int]:
        import torch

        temperature = float(body.get("temperature", 1.0) or 0.0)
        kwargs = {"max_new_tokens": min(int(body.get("max_tokens") or 64), 512),
                  "do_sample": temperature > 0, "pad_token_id": self.tokenizer.eos_token_id}
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(body.get("top_p", 1.0)))
        with self._lock, torch.inference_mode():
            out = self.model.generate(torch.tensor([ids]), streamer=streamer, **kwargs)
        return out[0, len(ids):].tolist()

    def _reply(self, path: str, body: dict, text: str, prompt: int, completion: int,
               finish: str) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
        if path == "/chat/completions":
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        return {"id": f"emb-{uuid.uuid4().hex[:12]}", "created": int(time.time()),
                "object": "chat.completion" if path == "/chat/completions" else "text_completion",
                "model": body.get("model", "embedded"), "choices": [choice],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}

    async def complete(self, path: str, body: dict, headers: dict[str, str]) -> dict[str, Any]:
        ids = self._prompt_ids(path, body)
        new = await asyncio.to_thread(self._generate, ids, body)
        eos = self.tokenizer.eos_token_id
        finish = "stop" if new and new[-1] == eos else "length"
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return self._reply(path, body, text, len(ids), len(new), finish)

    async def open_stream(self, path: str, body: dict,
                          headers: dict[str, str]) -> AsyncIterator[str]:
        from transformers import TextIteratorStreamer

        ids = self._prompt_ids(path, body)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True, timeout=self.spec.timeout_s)
        result: dict[str, list[int]] = {}
        worker = threading.Thread(target=lambda: result.update(
            new=self._generate(ids, body, streamer)), daemon=True)
        worker.start()
        chat = path == "/chat/completions"
        rid, created = f"emb-{uuid.uuid4().hex[:12]}", int(time.time())

        def chunk(delta: str | None, finish: str | None) -> str:
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if chat:
                choice["delta"] = {"content": delta} if delta is not None else {}
            else:
                choice["text"] = delta or ""
            return json.dumps({"id": rid, "created": created, "model": body.get("model"),
                               "object": "chat.completion.chunk" if chat else "text_completion",
                               "choices": [choice]})

        async def payloads() -> AsyncIterator[str]:
            pieces = iter(streamer)
            while True:
                piece = await asyncio.to_thread(next, pieces, None)
                if piece is None:
                    break
                if piece:
                    yield chunk(piece, None)
            await asyncio.to_thread(worker.join)
            new = result.get("new", [])
            finish = "stop" if new and new[-1] == self.tokenizer.eos_token_id else "length"
            yield chunk(None, finish)
            yield json.dumps({"id": rid, "created": created, "model": body.get("model"),
                              "object": "chat.completion.chunk", "choices": [],
                              "usage": {"prompt_tokens": len(ids), "completion_tokens": len(new),
                                        "total_tokens": len(ids) + len(new)}})
            yield "[DONE]"

        return payloads()
