"""Load on loopback: many concurrent requests, stream disconnects and a flapping backend.
Nothing hangs, every request gets an answer, and sockets, in-flight count and memory return to
their baseline. The issue's size (500 requests) runs under -m slow; the fast tier runs 120."""

import asyncio
import os
import random
import resource
import time

import httpx
import pytest


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("requests", [120, pytest.param(500, marks=pytest.mark.slow)])
def test_load_with_disconnects_and_a_flapping_backend(fake_servers, build_gateway, requests):
    flappy, flappy_app = fake_servers(fail_rate=0.3, seed=1, stream_delay_ms=2)
    steady, _ = fake_servers(stream_delay_ms=2)
    gateway, url, keys = build_gateway({
        "backends": [{"name": "flappy", "url": flappy}, {"name": "steady", "url": steady}],
        "routes": [{"model": "m", "backends": ["flappy", "steady"]}],
        "retry": {"attempts": 3, "backoff_s": 0.001},
        "circuit_breaker": {"failures": 3, "cooldown_s": 0.2}})
    key, _ = keys.create("load")
    headers = {"authorization": f"Bearer {key}"}
    rng = random.Random(0)
    plan = [("stream-cut" if rng.random() < 0.1 else rng.choice(["plain", "stream"]))
            for _ in range(requests)]

    async def one(http, kind, index):
        body = {"model": "m", "messages": [{"role": "user", "content": f"req {index} " * 20}]}
        if kind == "plain":
            return (await http.post(url + "/v1/chat/completions", json=body,
                                    headers=headers)).status_code
        async with http.stream("POST", url + "/v1/chat/completions", headers=headers,
                               json={**body, "stream": True}) as response:
            async for line in response.aiter_lines():
                if kind == "stream-cut" and line.startswith("data:"):
                    return "cut"  # leaving the block closes the connection mid-stream
            return response.status_code

    async def run():
        semaphore = asyncio.Semaphore(64)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            async def limited(kind, index):
                async with semaphore:
                    return await one(http, kind, index)

            return await asyncio.wait_for(asyncio.gather(*(limited(k, i) for i, k in
                                                           enumerate(plan))), timeout=240)

    fds_before = _open_fds()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = asyncio.run(run())
    assert len(outcomes) == requests
    assert set(outcomes) <= {200, "cut", 502}
    assert outcomes.count(502) <= requests // 20  # three tries across two backends rarely fail
    assert flappy_app.state.stats["failed"] > 0  # the flapping really happened
    deadline = time.monotonic() + 10
    while gateway.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.in_flight == 0
    # Sockets: what stays open is the gateway's keep-alive pool towards the backends (64 at most),
    # and since the fake backends live in this process too, each such connection counts twice.
    # A leak per request or per cut stream would pass that bound at 500 requests.
    assert _open_fds() - fds_before <= 2 * 64 + 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 200
