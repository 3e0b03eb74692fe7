"""`llm-gateway demo`: the gateway's promises shown with the official openai client, in one minute.

Two fake backends (one always failing) behind one route, keys in a temp SQLite file, the embedded
MiniLM as the semantic cache's encoder. It shows: a wrong key (401), a tenant's bucket admitting
exactly its size (429 after, with Retry-After), every request answered although half the backends
fail (fallback, then an open breaker), cache hits on repeated and re-worded questions and a miss
for another tenant, a streamed answer, and the latency the gateway adds over calling the backend
directly (same process here; `bench` measures it with separate processes).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .app import Gateway, create_app
from .cache import SemanticCache, default_embedder
from .config import DemoConfig, parse_config
from .fake_backend import create_fake_backend
from .server import ServerThread

QUESTIONS = [  # (asked first, asked again, same intent?)
    ("How do I reverse a list in Python?", "how do I reverse a Python list?", True),
    ("What does the with statement do?", "Explain what the with statement does", True),
    ("How can I read a file line by line?", "how can i read a file line by line", True),
    ("How do I convert a string to an integer?", "How do I convert an integer to a string?",
     False),
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_demo(config: DemoConfig) -> dict[str, Any]:
    import openai

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, \
            ServerThread(create_fake_backend(fail_rate=1.0, seed=config.seed)) as bad, \
            ServerThread(create_fake_backend(seed=config.seed)) as good:
        gateway_config = parse_config({
            "db": "keys.db", "backends": [{"name": "flaky", "url": bad + "/v1"},
                                          {"name": "steady", "url": good + "/v1"}],
            "routes": [{"model": "smollm2", "backends": ["flaky", "steady"]}],
            "retry": {"attempts": 3, "backoff_s": 0.01},
            "circuit_breaker": {"failures": 3, "cooldown_s": 30},
            "tenants": {"acme": {"rpm": config.bucket}}}, Path(folder))
        print("loading the embedded MiniLM for the semantic cache ...", flush=True)
        cache = SemanticCache(default_embedder())  # default threshold and guard
        gateway = Gateway(gateway_config, cache=cache)
        acme_key, _ = gateway.keys.create("acme")
        free_key, _ = gateway.keys.create("lab")
        other_key, _ = gateway.keys.create("globex")
        with ServerThread(create_app(gateway)) as url:
            def client(key: str) -> openai.OpenAI:
                return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)

            print("\n1. a wrong key")
            try:
                client("sk-not-a-key").chat.completions.create(
                    model="smollm2", messages=[{"role": "user", "content": "hi"}])
                print("   admitted (unexpected)")
            except openai.AuthenticationError as exc:
                print(f"   401 {type(exc).__name__}: {exc.body['message']}")

            attempts = config.bucket * 3
            print(f"\n2. tenant acme has rpm={config.bucket}; {attempts} requests in a row")
            admitted, retry_after = 0, None
            for _ in range(attempts):
                try:
                    client(acme_key).chat.completions.create(
                        model="smollm2", messages=[{"role": "user", "content": "count me"}])
                    admitted += 1
                except openai.RateLimitError as exc:
                    retry_after = exc.response.headers.get("retry-after")
            print(f"   admitted {admitted} of {attempts}; the rest got 429, Retry-After "
                  f"{retry_after} s")

            print("\n3. backend 'flaky' fails every request; 'steady' works")
            served = []
            for i in range(10):
                raw = client(free_key).chat.completions.with_raw_response.create(
                    model="smollm2", messages=[{"role": "user", "content": f"request {i}"}])
                served.append(raw.headers["x-gateway-backend"])
            fallback_ok = served.count("steady") == len(served)
            print(f"   10 of 10 answered, by {sorted(set(served))}; breaker of 'flaky': "
                  f"{gateway.router.breakers['flaky'].state}")

            print("\n4. semantic cache (temperature 0, scoped by tenant)")
            hits = wrong_hits = 0
            for first, again, same in QUESTIONS:
                client(free_key).chat.completions.create(
                    model="smollm2", temperature=0, messages=[{"role": "user", "content": first}])
                raw = client(free_key).chat.completions.with_raw_response.create(
                    model="smollm2", temperature=0, messages=[{"role": "user", "content": again}])
                hit = raw.headers["x-gateway-cache"] == "hit"
                hits += hit and same
                wrong_hits += hit and not same
                print(f"   {again!r:45} -> {raw.headers['x-gateway-cache']:4} "
                      f"({'same question' if same else 'another question: must miss'})")
            cross = client(other_key).chat.completions.with_raw_response.create(
                model="smollm2", temperature=0,
                messages=[{"role": "user", "content": QUESTIONS[0][0]}])
            print(f"   tenant globex asks tenant lab's question -> "
                  f"{cross.headers['x-gateway-cache']} (never another tenant's answer)")

            print("\n5. a streamed answer")
            stream = client(free_key).chat.completions.create(
                model="smollm2", stream=True, messages=[{"role": "user",
                                                         "content": "stream these words"}])
            print("   " + "".join(c.choices[0].delta.content or "" for c in stream if c.choices))

            print(f"\n6. added latency: {config.requests} requests direct vs through the gateway")
            direct, through = [], []
            body = {"model": "smollm2", "messages": [{"role": "user", "content": "ping"}],
                    "max_tokens": 4}
            with httpx.Client() as http:
                for _ in range(config.requests):
                    for target, out, headers in (
                            (good + "/v1", direct, {}),
                            (url + "/v1", through, {"authorization": f"Bearer {free_key}"})):
                        t0 = time.perf_counter()
                        http.post(target + "/chat/completions", json=body, headers=headers)
                        out.append((time.perf_counter() - t0) * 1000)
            p50 = statistics.median(through) - statistics.median(direct)
            p95 = _percentile(through, 0.95) - _percentile(direct, 0.95)
            print(f"   direct p50 {statistics.median(direct):.2f} ms, through the gateway "
                  f"{statistics.median(through):.2f} ms: +{p50:.2f} ms p50, +{p95:.2f} ms p95 "
                  "(one process; `llm-gateway bench` uses separate ones)")
        gateway.keys.close()
    return {"p50_overhead_ms": round(p50, 3), "p95_overhead_ms": round(p95, 3),
            "admitted": admitted, "limit": config.bucket, "fallback_ok": fallback_ok,
            "cache_hit_rate": hits / sum(same for _, _, same in QUESTIONS),
            "cache_wrong_hits": wrong_hits,
            "seconds": round(time.perf_counter() - start, 1)}
