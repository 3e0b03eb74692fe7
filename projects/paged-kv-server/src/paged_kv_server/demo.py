"""The chapter demo: the engine behind its OpenAI API, a burst of concurrent chats, HF as peer.

1. Load SmolLM2 into the paged engine and serve it on a free loopback port (in this process).
2. Send `--num-requests` chat requests at once with the official `openai` client (threads), half
   of them streaming; the engine batches them continuously.
3. Time HF `generate` on the same prompts one at a time (the naive server) for the ratio.
4. Show two answers, the block accounting (back to all free) and the prefix-cache hit rate.
Run: `uv run paged-kv-server demo` (under 90 s on 2 CPU cores). Last line: JSON with
tokens_per_s, hf_tokens_per_s, speedup.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llm_shared import load_causal_lm, model_path
from openai import OpenAI

from .config import DemoConfig
from .engine import LLMEngine
from .hf_baseline import hf_generate_sequential
from .server import ServerThread, create_app
from .workload import chat_prompt_ids, mixed_messages

# NOTE: HF is timed on at most this many of the prompts (tokens/s is a rate, so a subset is
# enough) to keep the demo under 90 s on 2 shared CPU cores.
HF_SUBSET = 2


def _ask(client: OpenAI, messages: list[dict], max_tokens: int, stream: bool) -> tuple[str, int]:
    if not stream:
        r = client.chat.completions.create(model="demo", messages=messages, max_tokens=max_tokens,
                                           temperature=0)
        return r.choices[0].message.content or "", r.usage.completion_tokens
    text, tokens = "", 0
    for chunk in client.chat.completions.create(model="demo", messages=messages,
                                                max_tokens=max_tokens, temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return text, tokens


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    engine = LLMEngine(config)
    conversations = mixed_messages(config.num_requests, seed=1, max_chars=500)
    app = create_app(engine, model_name="demo", max_queue=max(256, config.num_requests))
    with ServerThread(app) as server:
        client = OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0)
        print(f"serving {config.model} at {server.url}/v1 "
              f"({engine.block_manager.num_blocks} KV blocks of {config.block_size} tokens)")
        _ask(client, conversations[0], 2, False)  # warm-up
        t0 = time.perf_counter()
        with ThreadPoolExecutor(config.num_requests) as pool:
            answers = list(pool.map(lambda i: _ask(client, conversations[i], config.max_tokens,
                                                   stream=i % 2 == 1),
                                    range(config.num_requests)))
        ours_s = time.perf_counter() - t0
    stats = engine.stats()
    tokens = sum(n for _, n in answers)
    print(f"{config.num_requests} concurrent requests: {tokens} tokens in {ours_s:.1f} s "
          f"= {tokens / ours_s:.1f} tokens/s")
    for messages, (text, _) in list(zip(conversations, answers, strict=True))[:2]:
        question = messages[0]["content"].splitlines()[0]
        print(f"\nQ: {question}\nA: {text.strip()[:300]}")

    hf_model, _ = load_causal_lm(str(model_path(config.model)), device=str(engine.device),
                                 dtype=engine.dtype)
    subset = [chat_prompt_ids(engine.tokenizer, m) for m in conversations[:HF_SUBSET]]
    hf_generate_sequential(hf_model, subset[:1], 2)  # warm-up
    t0 = time.perf_counter()
    hf_out = hf_generate_sequential(hf_model, subset, config.max_tokens)
    hf_s = time.perf_counter() - t0
    hf_tokens = sum(len(t) for t in hf_out)
    print(f"\nHF generate, one request at a time ({len(subset)} of them): {hf_tokens} tokens "
          f"in {hf_s:.1f} s = {hf_tokens / hf_s:.1f} tokens/s")
    print(f"blocks free after all requests: {stats['free_blocks']}/{stats['num_blocks']}; "
          f"prefix-cache hit rate {stats['prefix_hit_rate']:.1%} (the shared system prompt)")
    ours_rate, hf_rate = tokens / ours_s, hf_tokens / hf_s
    return {"requests": config.num_requests, "tokens": tokens,
            "tokens_per_s": round(ours_rate, 2), "hf_tokens_per_s": round(hf_rate, 2),
            "speedup": round(ours_rate / hf_rate, 2),
            "free_blocks": stats["free_blocks"], "num_blocks": stats["num_blocks"],
            "prefix_hit_rate": round(stats["prefix_hit_rate"], 4),
            "seconds": round(time.perf_counter() - start, 1)}
