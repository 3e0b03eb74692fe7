"""The chapter demo: a streamed chat answer, an inspector table, the sampler chain at three
settings, the KV-cache check and a short probe run, all on the embedded SmolLM2.

Run: `uv run llm-explorer demo` (about a minute on 2 cores). The last stdout line is one JSON
object with the figures shown.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from .config import DemoConfig, SamplerConfig
from .engine import Engine
from .inspector import inspect_next, render_table
from .probes import load_suite, overall_rate, run_probes, summarise
from .samplers import SamplerChain


def run_demo(config: DemoConfig, engine: Engine | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    engine = engine or Engine.load(config.model, device=config.device)
    greedy = SamplerChain(SamplerConfig(temperature=0))

    print("== 1. a streamed chat answer (greedy) ==")
    question = "Explain in two sentences what a language model does."
    print(f"> {question}")
    ids = engine.encode(question, chat=True)
    answer = engine.generate(ids, greedy, max_tokens=config.max_tokens,
                             on_text=lambda piece: print(piece, end="", flush=True))
    print()
    ours_tps = len(answer.token_ids) / answer.seconds
    x = torch.tensor([ids], device=engine.device)  # (1, T)
    hf_start = time.perf_counter()
    with torch.inference_mode():
        hf = engine.model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                                   max_new_tokens=config.max_tokens,
                                   pad_token_id=engine.tokenizer.pad_token_id)
    hf_ids = [t for t in hf[0, len(ids):].tolist() if t not in engine.eos_ids]
    hf_tps = len(hf_ids) / (time.perf_counter() - hf_start)
    print(f"[{len(answer.token_ids)} tokens, {ours_tps:.1f} tok/s; HF generate "
          f"{hf_tps:.1f} tok/s; same tokens as HF greedy: {hf_ids == answer.token_ids}]")

    print("\n== 2. the next-token distribution ==")
    chain = SamplerChain(SamplerConfig())
    prompt_ids = engine.encode("The capital of France is")
    print(render_table(inspect_next(engine, prompt_ids, chain, top=8), chain, engine.tokenizer))

    print("\n== 3. one prompt, three sampler settings ==")
    story = engine.encode("Write one sentence about the sea.", chat=True)
    for label, sampler in (("greedy", SamplerConfig(temperature=0)),
                           ("default", SamplerConfig(seed=1)),
                           ("hot, no cuts", SamplerConfig(temperature=1.5, top_k=0, top_p=1.0,
                                                          min_p=0.0, seed=1))):
        chain = SamplerChain(sampler)
        text = engine.generate(story, chain, max_tokens=24).text.strip().replace("\n", " ")
        print(f"[{label}] {chain}\n    {text}")

    print("\n== 4. KV cache vs recomputing the whole sequence ==")
    cached = engine.generate(prompt_ids, greedy, max_tokens=4, keep_logits=True)
    plain = engine.generate(prompt_ids, greedy, max_tokens=4, use_cache=False, keep_logits=True)
    diff = max(float((a.softmax(-1) - b.softmax(-1)).abs().max())
               for a, b in zip(cached.step_logits, plain.step_logits, strict=True))
    kv_equal = cached.token_ids == plain.token_ids and diff <= 1e-5
    print(f"max |p_cached - p_uncached| = {diff:.2e}; same tokens: "
          f"{cached.token_ids == plain.token_ids}")

    print("\n== 5. a short probe run ==")
    probes = load_suite(per_category=config.probes_per_category)
    results = run_probes(engine, greedy, probes, max_tokens=24, label=config.model,
                         progress=False)
    for r in results:
        print(f"  {'PASS' if r['passed'] else 'fail'}  {r['id']:<16} "
              f"{r['answer'][:60].replace(chr(10), ' ')!r}")
    cats = summarise(results, resamples=200)
    return {"tokens_per_s": round(ours_tps, 2), "hf_tokens_per_s": round(hf_tps, 2),
            "probe_pass_rate": overall_rate(cats),
            "probe_categories": {k: v["rate"] for k, v in cats.items()},
            "kv_cache_equal": kv_equal, "seconds": round(time.perf_counter() - start, 1)}
