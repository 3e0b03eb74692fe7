"""Running an ASGI app on 127.0.0.1 with uvicorn, and draining it on SIGTERM.

The first SIGTERM (or SIGINT) turns the gateway to draining: `/ready` answers 503, new requests
get 503, open requests and streams go on; when none is left (or after `drain_s`), the server
stops. A second signal stops it at once. `ServerThread` runs any app in a background thread on a
free port for tests, the demo and the bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, gateway: Any = None, drain_s: float = 30.0):
        super().__init__(config)
        self.gateway, self.drain_s, self._draining_task = gateway, drain_s, None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.gateway is None or self.gateway.draining:
            return super().handle_exit(sig, frame)  # no gateway, or a second signal: stop now
        self.gateway.draining = True
        loop = asyncio.get_event_loop()
        # Signal handlers run between bytecodes; hand the drain to the loop properly.
        loop.call_soon_threadsafe(lambda: setattr(self, "_draining_task",
                                                  loop.create_task(self._drain())))

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_s
        while self.gateway.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.should_exit = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(app: Any, host: str, port: int) -> uvicorn.Config:
    # timeout_keep_alive and limit_concurrency bound what a slow or abusive client can hold open.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_keep_alive=5, timeout_graceful_shutdown=30, lifespan="off")


class ServerThread:
    """`with ServerThread(app) as url:` serves `app` on 127.0.0.1:<free port> for the block."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(make_config(app, "127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        with contextlib.suppress(RuntimeError):
            self.thread.join(timeout=10)
