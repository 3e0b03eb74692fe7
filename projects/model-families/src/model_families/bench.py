"""`bench`: our forward pass and greedy decoding against transformers, same process, alternating.

Forward: each family on the same inputs - the embedded SmolLM2 (1 x 128 tokens) and MiniLM
(8 x 128), and random GPT-2 / T5 models of a few million parameters saved with transformers
(2 x 128 tokens; T5 with 32 decoder tokens). Goal: ours <= 1.2x transformers' time. Decode:
greedy tokens/s of our KV-cache loop vs HF `generate` (its default cache, `min_new_tokens` so both
produce exactly N tokens) on SmolLM2. Goal: >= 1.0x. Medians of alternating runs
(`llm_shared.compare`); transformers runs with its default (SDPA) attention in float32.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from llm_shared import EMBEDDED_ENCODER, EMBEDDED_LLM, compare

from .config import BenchConfig
from .families import load, load_hf
from .generate import generate
from .tasks import load_tokenizer
from .tiny import save_tiny

# Mid-size random models: big enough that matmuls, not Python, dominate a forward pass.
GPT2_BENCH = dict(vocab_size=8192, n_positions=256, n_embd=384, n_layer=6, n_head=6)
T5_BENCH = dict(vocab_size=8192, d_model=256, d_kv=32, d_ff=1024, num_layers=4, num_heads=8,
                relative_attention_num_buckets=32, relative_attention_max_distance=128)


def _inputs(vocab: int, shape: tuple[int, int], family: str) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    inputs = {"input_ids": torch.randint(5, vocab, shape, generator=gen)}
    if family == "t5":
        inputs["decoder_input_ids"] = torch.randint(5, vocab, (shape[0], 32), generator=gen)
    return inputs


def _forward_row(label: str, folder: Any, shape: tuple[int, int], repeats: int
                 ) -> dict[str, Any]:
    loaded = load(folder)
    hf = load_hf(loaded.folder, loaded.family)
    inputs = _inputs(loaded.model.cfg.vocab_size, shape, loaded.family)
    ids = inputs["input_ids"]

    def ours() -> None:
        with torch.inference_mode():
            if loaded.family == "t5":
                loaded.model(ids, inputs["decoder_input_ids"])
            else:
                loaded.model(ids)

    def theirs() -> None:
        with torch.inference_mode():
            hf(**inputs)

    timing = compare(ours, theirs, repeats=repeats, names=("ours", "hf"))
    return {"what": f"forward {label}", "inputs": "x".join(map(str, shape)),
            "ours_s": round(timing.median_a, 4), "hf_s": round(timing.median_b, 4),
            "ours_over_hf": round(timing.median_a / timing.median_b, 3)}


def _decode_row(tokens: int, repeats: int) -> dict[str, Any]:
    loaded = load(EMBEDDED_LLM)
    hf = load_hf(loaded.folder, loaded.family)
    prompt = "The history of the printing press begins in the fifteenth century, when"
    ids = load_tokenizer(loaded)(prompt, return_tensors="pt")["input_ids"]  # (1, 14)

    def ours() -> None:
        assert len(generate(loaded.model, ids, tokens)) == tokens

    def theirs() -> None:
        with torch.inference_mode():
            out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens,
                              min_new_tokens=tokens, do_sample=False)
        assert out.shape[1] - ids.shape[1] == tokens

    timing = compare(ours, theirs, repeats=repeats, names=("ours", "hf"))
    ours_tps, hf_tps = tokens / timing.median_a, tokens / timing.median_b
    return {"what": f"greedy decode SmolLM2, {tokens} tokens", "inputs": f"1x{ids.shape[1]}",
            "ours_s": round(timing.median_a, 4), "hf_s": round(timing.median_b, 4),
            "ours_over_hf": round(timing.median_a / timing.median_b, 3),
            "ours_tok_s": round(ours_tps, 2), "hf_tok_s": round(hf_tps, 2),
            "speed_vs_hf": round(ours_tps / hf_tps, 3)}


def run_bench(config: BenchConfig) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="model-families-bench-") as tmp:
        gpt2 = save_tiny("gpt2", Path(tmp) / "gpt2", **GPT2_BENCH)
        t5 = save_tiny("t5-v1_1", Path(tmp) / "t5", **T5_BENCH)
        for label, folder, shape in [
            ("llama (SmolLM2-135M)", EMBEDDED_LLM, (1, 128)),
            ("bert (all-MiniLM-L6-v2)", EMBEDDED_ENCODER, (8, 128)),
            ("gpt2 (random, 6x384)", gpt2, (2, 128)),
            ("t5 v1.1 (random, 4+4x256)", t5, (2, 128)),
        ]:
            rows.append(_forward_row(label, folder, shape, config.repeats))
    rows.append(_decode_row(config.decode_tokens, config.repeats))
    summary = {f"{row['what'].split()[1]}_forward_ours_over_hf": row["ours_over_hf"]
               for row in rows[:4]}
    summary.update(decode_ours_tok_s=rows[-1]["ours_tok_s"], decode_hf_tok_s=rows[-1]["hf_tok_s"],
                   decode_speed_vs_hf=rows[-1]["speed_vs_hf"], threads=torch.get_num_threads())
    return {"rows": rows, "summary": summary}
