"""Reliability: 200 concurrent streaming requests with random client disconnects, twice.

Starts `paged-kv-server serve` in a child process (loopback only), then per round: 200 streaming
completions at once through httpx (one connection each); about 30% hang up after a random number
of events. Checks: no request hangs (each has a deadline), every block is free once the engine is
idle, the server still answers /v1/models and a completion, and its memory does not grow from
round 1 to round 2.
    OMP_NUM_THREADS=1 uv run python bench/load_test.py [--model tiny-llama] [--requests 200]
Last line: one JSON object with "ok".
"""

import argparse
import asyncio
import json
import random
import time

import httpx
from paged_kv_server.launch import launched_server, rss_mb


async def one(client: httpx.AsyncClient, url: str, i: int, rng: random.Random,
              max_tokens: int) -> str:
    hang_up_after = rng.randint(1, 6) if rng.random() < 0.3 else None
    body = {"prompt": f"Request {i}: tell me about paging in operating systems.",
            "max_tokens": max_tokens, "stream": True, "temperature": 0.8, "seed": i}
    events = 0
    async with client.stream("POST", url + "/v1/completions", json=body) as r:
        if r.status_code != 200:
            return f"http {r.status_code}"
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                events += 1
                if line == "data: [DONE]":
                    return "done"
                if hang_up_after is not None and events >= hang_up_after:
                    return "disconnected"  # leaving the block closes the connection
    return "cut"


async def round_(url: str, n: int, seed: int, max_tokens: int, deadline: float) -> dict:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=deadline, limits=limits) as client:
        tasks = [asyncio.wait_for(one(client, url, i, rng, max_tokens), deadline)
                 for i in range(n)]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    counts: dict[str, int] = {}
    for o in outcomes:
        key = "hung" if isinstance(o, asyncio.TimeoutError) else (
            type(o).__name__ if isinstance(o, BaseException) else o)
        counts[key] = counts.get(key, 0) + 1
    return counts


def wait_idle(url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(url + "/health").json()
        if (health["running"] == health["waiting"] == 0) or time.monotonic() > deadline:
            return health
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-llama")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds per request")
    args = parser.parse_args()
    report = {"model": args.model, "requests_per_round": args.requests}
    with launched_server(["--model", args.model, "--device", "cpu", "--max-queue",
                          str(args.requests + 8), "--max-num-seqs", "128"]) as (url, proc):
        rss = []
        for r in (1, 2):
            start = time.perf_counter()
            counts = asyncio.run(round_(url, args.requests, r, args.max_tokens, args.deadline))
            health = wait_idle(url)
            alive = httpx.get(url + "/v1/models").status_code == 200 and httpx.post(
                url + "/v1/completions", json={"prompt": "still there?", "max_tokens": 2}
            ).json()["usage"]["completion_tokens"] == 2
            rss.append(rss_mb(proc.pid))
            line = {"round": r, "seconds": round(time.perf_counter() - start, 1), **counts,
                    "free_blocks": f"{health['free_blocks']}/{health['num_blocks']}",
                    "answers_after": alive, "server_rss_mb": round(rss[-1], 1)}
            print(line, flush=True)
            report[f"round{r}"] = line
        report["rss_growth_mb"] = round(rss[1] - rss[0], 1)
        rounds = [report["round1"], report["round2"]]
        report["ok"] = bool(all(x.get("hung", 0) == 0 and x["answers_after"]
                                and x["free_blocks"].split("/")[0] == x["free_blocks"].split("/")[1]
                                for x in rounds) and report["rss_growth_mb"] < 50)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
