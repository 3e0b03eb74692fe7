"""Our generation loop against Hugging Face `generate` on the same model, prompt and settings.

Both decode exactly `new_tokens` ids (EOS ignored by both, so every run does the same work),
greedy and sampled (llama.cpp's defaults, passed to HF explicitly), alternating A/B repeats,
median seconds (`llm_shared.compare`). Greedy token ids must be identical; the sampled ones are
equal in distribution only (the stage order differs), which tests/test_samplers.py checks.
Run: `uv run llm-explorer bench` (the script in bench/ calls this).
"""

from __future__ import annotations

from typing import Any

import torch
from llm_shared import compare

from .config import SamplerConfig
from .engine import Engine
from .samplers import SamplerChain

PROMPT = "Write a short story about a robot who learns to paint."


def hf_kwargs(config: SamplerConfig) -> dict[str, Any]:
    if config.temperature == 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": config.temperature, "top_k": config.top_k,
            "top_p": config.top_p, "min_p": config.min_p or None,
            "repetition_penalty": config.repetition_penalty}


def run_bench(engine: Engine, *, new_tokens: int = 100, repeats: int = 3, warmup: int = 1,
              prompt: str = PROMPT) -> dict[str, Any]:
    ids = engine.encode(prompt, chat=True)
    rows: dict[str, Any] = {}
    for mode, config in (("greedy", SamplerConfig(temperature=0)),
                         ("sampled", SamplerConfig(seed=0))):
        ours, hf, outputs = _runners(engine, ids, config, new_tokens)
        result = compare(ours, hf, repeats=repeats, warmup=warmup, names=("ours", "hf"))
        rows[mode] = {"ours_tokens_per_s": round(new_tokens / result.median_a, 2),
                      "hf_tokens_per_s": round(new_tokens / result.median_b, 2),
                      "ratio": round(result.ratio, 3),
                      "tokens": [len(outputs["ours"]), len(outputs["hf"])]}
        if mode == "greedy":
            rows[mode]["identical"] = outputs["ours"] == outputs["hf"]
    return rows


def _runners(engine: Engine, ids: list[int], config: SamplerConfig, new_tokens: int):
    """(ours, hf, outputs): two zero-argument callables that leave their ids in `outputs`."""
    chain = SamplerChain(config)
    x = torch.tensor([ids], device=engine.device)  # (1, T)
    eos = engine.eos_ids
    outputs: dict[str, list[int]] = {}

    def ours() -> None:
        engine.eos_ids = set()  # the same amount of work in every run
        try:
            outputs["ours"] = engine.generate(ids, chain, max_tokens=new_tokens).token_ids
        finally:
            engine.eos_ids = eos

    def hf() -> None:
        torch.manual_seed(0)
        with torch.inference_mode():
            out = engine.model.generate(x, attention_mask=torch.ones_like(x),
                                        max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                        pad_token_id=engine.tokenizer.pad_token_id,
                                        **hf_kwargs(config))
        outputs["hf"] = out[0, len(ids):].tolist()

    return ours, hf, outputs
