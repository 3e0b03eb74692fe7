"""The chapter demo: all four families against transformers, generation, and the table.

Run: `uv run model-families demo`. Compares logits and hidden states on the embedded SmolLM2
(Llama) and all-MiniLM-L6-v2 (BERT) and on a tiny random GPT-2 and T5 saved with transformers
into a temporary folder; generates a few greedy tokens with our KV-cache loop on SmolLM2 and the
T5 and checks them against HF `generate`; prints the comparison table.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import EMBEDDED_ENCODER, EMBEDDED_LLM, markdown_table

from .compare import fixed_inputs, max_diffs, run_hf, run_ours
from .config import DemoConfig
from .families import load, load_hf
from .generate import generate
from .table import build_table
from .tasks import eos_ids, load_tokenizer
from .tiny import save_tiny


def _greedy_pair(loaded, hf, ids: torch.Tensor, n: int) -> tuple[list[int], list[int]]:
    ours = generate(loaded.model, ids, n, eos_ids(loaded))
    with torch.inference_mode():
        out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                          do_sample=False, eos_token_id=eos_ids(loaded) or None)
    theirs = (out[0, 1:] if loaded.family == "t5" else out[0, ids.shape[1]:]).tolist()
    return ours, theirs


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="model-families-demo-") as tmp:
        folders = {"llama": EMBEDDED_LLM, "bert": EMBEDDED_ENCODER,
                   "gpt2": save_tiny("gpt2", Path(tmp) / "gpt2"),
                   "t5": save_tiny("t5-v1_1", Path(tmp) / "t5")}
        print("1. Our code vs transformers, float32, same token ids (max |difference|):")
        for family, folder in folders.items():
            loaded = load(folder)
            hf = load_hf(loaded.folder, family)
            inputs = fixed_inputs(loaded)
            logit_diff, hidden_diff = max_diffs(run_ours(loaded, inputs),
                                                run_hf(hf, family, inputs))
            name = folder if isinstance(folder, str) else f"tiny random {family} ({tmp}/...)"
            print(f"   {family:5s} {name}: logits {logit_diff:.1e}, hidden states "
                  f"{hidden_diff:.1e}")
            result[f"{family}_max_abs_diff"] = max(logit_diff, hidden_diff)
            if family == "llama":
                tokenizer = load_tokenizer(loaded)
                prompt = "The three primary colours are"
                ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
                ours, theirs = _greedy_pair(loaded, hf, ids, config.max_tokens)
                print(f"   greedy, our KV-cache loop: {prompt!r} -> "
                      f"{tokenizer.decode(ours)!r} (HF generate equal: {ours == theirs})")
                result["llama_generate_equal"] = ours == theirs
            if family == "t5":
                ids = inputs["input_ids"][:1]
                ours, theirs = _greedy_pair(loaded, hf, ids, config.max_tokens)
                print(f"   T5 greedy ids {ours} (HF generate equal: {ours == theirs})")
                result["t5_generate_equal"] = ours == theirs
            del loaded, hf
    print("\n2. What changed from family to family (from our code and the configs):")
    print(markdown_table(build_table()))
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result
