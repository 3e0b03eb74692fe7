"""`serve`: a small JSON HTTP API over one store, for other programs (stdlib `http.server`).

    POST /search {"query": "...", "k": 5, "mode": "hybrid", "where": ["kind=markdown"]}
         -> {"hits": [{"source", "title", "heading", "start", "end", "score", "text"}, ...]}
    POST /ask    {"question": "...", "stream": false} -> {"answer", "known", "citations", ...}
                 with "stream": true the reply is NDJSON: {"text": piece} lines, then the answer.
    POST /ingest {"paths": ["docs/"]}   (paths on the server's disk) -> the ingest report
    GET  /health -> {"status": "ok", "chunks": N}

Bad requests get 400 with {"error": "..."}. Requests run one at a time through the engine's lock
(one CPU model). Leaves out authentication and TLS: bind to 127.0.0.1 (the default) or put a
proxy in front. Exercised by tests/test_server.py and `rag-engine serve --store DIR`.
"""

from __future__ import annotations

import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llm_shared import UserError

from .config import AskConfig, SearchConfig, ServeConfig
from .engine import Engine

SEARCH_KEYS = ("k", "mode", "candidates", "exact", "rerank", "rerank_top", "mmr", "where")
ASK_KEYS = (*SEARCH_KEYS, "max_new_tokens", "context_chunks", "min_relevance")


def make_handler(engine: Engine, defaults: ServeConfig) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rag-engine/0.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            print(f"{self.address_string()} {fmt % args}", file=sys.stderr)

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                data = json.loads(self.rfile.read(length) or b"{}")
            except ValueError as exc:
                raise UserError(f"request body is not JSON ({exc})") from exc
            if not isinstance(data, dict):
                raise UserError("request body must be a JSON object")
            return data

        def _config(self, cls: type, data: dict[str, Any], keys: tuple[str, ...]) -> Any:
            base = {k: getattr(defaults, k) for k in keys}
            base.update({k: v for k, v in data.items() if k in keys})
            try:
                return cls(store=defaults.store, encoder=defaults.encoder, **base,
                           **({"model": defaults.model} if cls is AskConfig else {}))
            except TypeError as exc:
                raise UserError(f"bad parameters: {exc}") from exc

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok", "chunks": len(engine.retriever.chunks)})
            else:
                self._send(404, {"error": f"no route GET {self.path}; try GET /health"})

        def do_POST(self) -> None:  # noqa: N802
            try:
                data = self._body()
                route = self.path.rstrip("/")
                if route == "/search":
                    query = data.get("query")
                    if not isinstance(query, str) or not query.strip():
                        raise UserError('/search needs {"query": "..."}')
                    hits = engine.search(query, self._config(SearchConfig, data, SEARCH_KEYS))
                    self._send(200, {"hits": [h.as_json() for h in hits]})
                elif route == "/ask":
                    question = data.get("question")
                    if not isinstance(question, str) or not question.strip():
                        raise UserError('/ask needs {"question": "..."}')
                    config = self._config(AskConfig, data, ASK_KEYS)
                    if data.get("stream"):
                        self._stream_answer(question, config)
                    else:
                        self._send(200, engine.ask(question, config).as_json())
                elif route == "/ingest":
                    paths = data.get("paths")
                    if not isinstance(paths, list) or not paths:
                        raise UserError('/ingest needs {"paths": ["file or folder", ...]}')
                    self._send(200, engine.ingest(paths).as_json())
                else:
                    self._send(404, {"error": f"no route POST {self.path}; use /search, /ask "
                                              "or /ingest"})
            except UserError as exc:
                self._send(400, {"error": " ".join(str(exc).split())})
            except Exception as exc:  # a bug: keep serving, tell the client, log the traceback
                traceback.print_exc(file=sys.stderr)
                self._send(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

        def _stream_answer(self, question: str, config: AskConfig) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def write(obj: dict[str, Any]) -> None:
                line = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()

            result = engine.ask(question, config, on_text=lambda piece: write({"text": piece}))
            write(result.as_json())
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def make_server(engine: Engine, config: ServeConfig) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((config.host, config.port), make_handler(engine, config))


def serve(config: ServeConfig) -> None:
    engine = Engine.open(config.store, config.encoder, config.device, config.model, create=True)
    server = make_server(engine, config)
    host, port = server.server_address[:2]
    print(f"rag-engine serving {engine.store.location} ({len(engine.retriever.chunks)} chunks) "
          f"on http://{host}:{port} — POST /search /ask /ingest, GET /health", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        engine.close()
