"""Online latency bench: TTFT and TPOT percentiles at concurrency 1, 8 and 32, openai client.

Starts `paged-kv-server serve` in a child process on a free loopback port, then for each
concurrency level C sends max(4, C) streaming chat requests from C client threads (each thread
sends its next request when the previous one ends). TTFT = first content chunk - request start;
TPOT = (last chunk - first chunk) / (completion tokens - 1), from the usage chunk.
    OMP_NUM_THREADS=1 uv run python bench/bench_online.py [--model NAME] [--max-tokens 32]
Last line: one JSON object.
"""

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from llm_shared import load_tokenizer, markdown_table
from openai import OpenAI
from paged_kv_server.launch import launched_server
from paged_kv_server.workload import mixed_messages


def one_request(client: OpenAI, messages: list[dict], max_tokens: int) -> dict:
    start = time.perf_counter()
    first = last = None
    tokens = 0
    stream = client.chat.completions.create(model="bench", messages=messages, stream=True,
                                            max_tokens=max_tokens, temperature=0,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        now = time.perf_counter()
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or now
            last = now
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    first = first or time.perf_counter()
    last = last or first
    return {"ttft": first - start, "tpot": (last - first) / (tokens - 1) if tokens > 1 else None,
            "tokens": tokens, "latency": time.perf_counter() - start}


def pct(values: list[float], q: int) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    tokenizer = load_tokenizer(args.model)
    del tokenizer  # loaded once here so that the cache is warm for the server
    conversations = mixed_messages(max(args.levels) * 2, seed=3, max_chars=1200)
    rows, result = [], {"model": args.model, "max_tokens": args.max_tokens}
    with launched_server(["--model", args.model, "--served-model-name", "bench",
                          "--device", "cpu"]) as (url, _):
        client = OpenAI(base_url=url + "/v1", api_key="-", max_retries=0, timeout=600)
        one_request(client, conversations[0], 4)  # warm-up
        for level in args.levels:
            count = max(4, level)
            start = time.perf_counter()
            with ThreadPoolExecutor(level) as pool:
                stats = list(pool.map(lambda i: one_request(client, conversations[i],
                                                            args.max_tokens), range(count)))
            wall = time.perf_counter() - start
            ttft = [s["ttft"] for s in stats]
            tpot = [s["tpot"] for s in stats if s["tpot"] is not None]
            row = {"concurrency": level, "requests": count,
                   "ttft_p50_s": pct(ttft, 50), "ttft_p90_s": pct(ttft, 90),
                   "ttft_p99_s": pct(ttft, 99), "tpot_p50_s": pct(tpot, 50),
                   "tpot_p90_s": pct(tpot, 90), "tpot_p99_s": pct(tpot, 99),
                   "tokens_per_s": sum(s["tokens"] for s in stats) / wall}
            rows.append(row)
            print(markdown_table([row]).splitlines()[-1], flush=True)
            result[f"c{level}"] = {k: round(v, 4) for k, v in row.items()
                                   if k not in ("concurrency",)}
    print(markdown_table(rows))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
