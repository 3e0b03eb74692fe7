"""`llm-gateway bench`: the latency the gateway adds over calling the backend directly.

Separate processes, as in production: a fast fake backend, our gateway in front of it, and
(optionally) the LiteLLM proxy in front of the same backend, started from its own environment
(`--litellm-bin`, see README). The load generator sends the same requests to each at concurrency
1, 16 and 64, the systems taking turns round by round (the first system rotates), and reports per
system the median over rounds of the P50 and P95 latency, minus the direct call's: the added
milliseconds. At concurrency 1 it also measures a stream's time to first token.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from llm_shared import UserError

from .config import BenchConfig
from .keys import KeyStore
from .server import free_port

_CLI = [sys.executable, "-c", "from llm_gateway.cli import main; raise SystemExit(main())"]
BODY = {"model": "m", "messages": [{"role": "user", "content": "ping the backend"}],
        "max_tokens": 4}


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(f"a bench server exited early (code {process.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise UserError(f"{url} did not come up within {seconds:.0f} s")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _round(url: str, headers: dict[str, str], requests: int,
                 concurrency: int) -> tuple[list[float], int]:
    """Latencies (ms) of the requests that succeeded, and how many failed at the transport."""
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                t0 = time.perf_counter()
                try:
                    response = await http.post(url + "/chat/completions", json=BODY,
                                               headers=headers)
                except httpx.TransportError:
                    errors += 1  # counted and reported, not timed
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise UserError(f"{url} answered {response.status_code}: "
                                    f"{response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def _ttft(url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(n):
            t0 = time.perf_counter()
            async with http.stream("POST", url + "/chat/completions", headers=headers,
                                   json={**BODY, "stream": True}) as response:
                first = None
                async for line in response.aiter_lines():  # read to the end: a whole stream
                    if first is None and line.startswith("data:"):
                        first = (time.perf_counter() - t0) * 1000
                out.append(first)
    return out


def _litellm(binary: str, backend: str, folder: Path) -> tuple[subprocess.Popen, str, str]:
    port, key = free_port(), "sk-bench-master-key"
    config = folder / "litellm.yaml"
    config.write_text("model_list:\n  - model_name: m\n    litellm_params:\n"
                      f"      model: openai/m\n      api_base: {backend}\n      api_key: none\n"
                      "general_settings:\n  master_key: " + key + "\n")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MASTER_KEY": key,
           "LITELLM_LOG": "ERROR"}
    process = subprocess.Popen([binary, "--config", str(config), "--host", "127.0.0.1",
                                "--port", str(port), "--num_workers", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}", key


def run_bench(config: BenchConfig) -> dict[str, Any]:
    if config.litellm_bin and not shutil.which(config.litellm_bin):
        raise UserError(f"--litellm-bin {config.litellm_bin} not found; install litellm[proxy] "
                        "in its own environment (README) and pass its `litellm` path")
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        try:
            backend_port, gateway_port = free_port(), free_port()
            processes.append(subprocess.Popen([*_CLI, "fake-backend", "--port",
                                               str(backend_port)], stdout=subprocess.DEVNULL))
            backend = f"http://127.0.0.1:{backend_port}/v1"
            (folder / "gateway.toml").write_text(
                f'db = "keys.db"\n[[backends]]\nname = "fake"\nurl = "{backend}"\n'
                '[[routes]]\nmodel = "m"\nbackends = ["fake"]\n[cache]\nsemantic = false\n')
            key, _ = KeyStore(folder / "keys.db").create("bench")
            processes.append(subprocess.Popen(
                [*_CLI, "serve", "--config", str(folder / "gateway.toml"), "--port",
                 str(gateway_port)], stdout=subprocess.DEVNULL))
            systems = {"direct": (backend, {}),
                       "ours": (f"http://127.0.0.1:{gateway_port}/v1",
                                {"authorization": f"Bearer {key}"})}
            _wait_ready(backend.removesuffix("/v1") + "/v1/models", processes[0])
            _wait_ready(f"http://127.0.0.1:{gateway_port}/ready", processes[1])
            if config.litellm_bin:
                process, url, master = _litellm(config.litellm_bin, backend, folder)
                processes.append(process)
                _wait_ready(url + "/health/liveliness", process, seconds=300)
                systems["litellm"] = (url + "/v1", {"authorization": f"Bearer {master}"})
            return _measure(systems, config)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def _measure(systems: dict[str, tuple[str, dict]], config: BenchConfig) -> dict[str, Any]:
    names = list(systems)
    for name in names:  # warm-up: connections, imports, first-request paths
        asyncio.run(_round(*systems[name], 20, 4))
    rows: dict[str, Any] = {}
    print(f"{'concurrency':>11} {'system':>8} {'p50 ms':>8} {'p95 ms':>8} {'+p50':>7} "
          f"{'+p95':>7} {'errors':>6}")
    for concurrency in config.concurrency:
        p50s: dict[str, list[float]] = {n: [] for n in names}
        p95s: dict[str, list[float]] = {n: [] for n in names}
        errors = dict.fromkeys(names, 0)
        for round_index in range(config.repeats):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                latencies, failed = asyncio.run(_round(*systems[name], config.requests,
                                                       concurrency))
                errors[name] += failed
                p50s[name].append(statistics.median(latencies))
                p95s[name].append(_percentile(latencies, 0.95))
        level = {}
        for name in names:
            p50, p95 = statistics.median(p50s[name]), statistics.median(p95s[name])
            base50, base95 = statistics.median(p50s["direct"]), statistics.median(p95s["direct"])
            level[name] = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3),
                           "added_p50_ms": round(p50 - base50, 3),
                           "added_p95_ms": round(p95 - base95, 3), "errors": errors[name]}
            print(f"{concurrency:>11} {name:>8} {p50:>8.2f} {p95:>8.2f} {p50 - base50:>+7.2f} "
                  f"{p95 - base95:>+7.2f} {errors[name]:>6}")
        rows[str(concurrency)] = level
    ttft = {}
    for name in names:
        ttft[name] = round(statistics.median(asyncio.run(_ttft(*systems[name], 30))), 3)
    print("stream time to first token (ms, median of 30): "
          + ", ".join(f"{n} {v:.2f}" for n, v in ttft.items()))
    return {"requests": config.requests, "repeats": config.repeats, "levels": rows,
            "ttft_ms": ttft, "systems": names}
