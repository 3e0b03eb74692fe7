"""Fixtures: fake OpenAI backends on loopback, a gateway builder, and a real redis-server.

Gateways in tests use a fake token counter and no semantic cache unless a test asks for one, so
most tests load no model. Redis is Debian's `redis-server` started on a free port; without it
the Redis tests skip, except under CI, where a missing server is a failure (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from llm_gateway.app import Gateway, create_app
from llm_gateway.config import parse_config
from llm_gateway.fake_backend import create_fake_backend
from llm_gateway.keys import KeyStore
from llm_gateway.server import ServerThread, free_port


@pytest.fixture
def fake_servers():
    """Start fake backends: `start(**kwargs) -> (url, app)`; all stop after the test."""
    running = []

    def start(**kwargs):
        app = create_fake_backend(**kwargs)
        server = ServerThread(app)
        url = server.__enter__()
        running.append(server)
        return url + "/v1", app

    yield start
    for server in running:
        server.__exit__(None, None, None)


@pytest.fixture
def build_gateway(tmp_path):
    """`build(toml_dict, **gateway_kwargs) -> (gateway, url, keys)`: a gateway on loopback."""
    running = []

    def build(data, **kwargs):
        config = parse_config({"db": str(tmp_path / f"keys{len(running)}.db"), **data}, tmp_path)
        kwargs.setdefault("count_tokens", lambda text: len(text.split()))
        keys = kwargs.pop("keys", None) or KeyStore(config.db)
        gateway = Gateway(config, keys=keys, **kwargs)
        server = ServerThread(create_app(gateway))
        url = server.__enter__()
        running.append(server)
        return gateway, url, keys

    yield build
    for server in running:
        server.__exit__(None, None, None)


def _redis_available() -> str | None:
    return shutil.which("redis-server")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    binary = _redis_available()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required under CI (.ci/run installs Debian's package)")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    port = free_port()
    folder: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
