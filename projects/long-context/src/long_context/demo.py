"""The chapter demo: RoPE vs transformers, tiled attention vs SDPA at 4k, passkey on SmolLM2.

Three short checks on the embedded defaults, each printed as it finishes:
1. every scaling type's inv_freq/attention factor against `ROPE_INIT_FUNCTIONS` (SmolLM2's head),
2. tiled attention vs PyTorch SDPA at 4,096 tokens (causal, SmolLM2's 9/3 GQA heads): max |diff|
   and the peak extra memory of each (measured in a child process, see memory.py),
3. passkey retrieval at 1k tokens on SmolLM2 through our RoPE and tiled attention.
Run: `uv run long-context demo`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from .attention import sdpa_attention, tiled_attention
from .config import DemoConfig
from .memory import peak_extra_mb
from .model import load_long_model
from .passkey import make_trials, run_trials, write_run
from .rope import RopeSpec, rope_frequencies

SMOLLM2 = {
    "hidden_size": 576,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
}
DEMO_SCALINGS = {
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 4.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0},
    "llama3": {
        "rope_type": "llama3",
        "factor": 4.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
    },
    "longrope": {
        "rope_type": "longrope",
        "factor": 4.0,
        "short_factor": [1.0] * 32,
        "long_factor": [1.0 + 0.25 * i for i in range(32)],
    },
}


def rope_table(seq_len: int = 16384) -> list[dict[str, Any]]:
    """Ours vs transformers for each scaling on SmolLM2's config at `seq_len` tokens."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    rows = []
    for name, params in DEMO_SCALINGS.items():
        config = {**SMOLLM2, "rope_parameters": {**params, "rope_theta": SMOLLM2["rope_theta"]}}
        ours, ours_factor = rope_frequencies(RopeSpec.from_config(config), seq_len)
        theirs, their_factor = ROPE_INIT_FUNCTIONS[name](
            LlamaConfig(**config), "cpu", seq_len=seq_len
        )
        rows.append(
            {
                "rope_type": name,
                "lowest_inv_freq": float(ours[-1]),
                "attention_factor": round(ours_factor, 6),
                "max_abs_diff": float((ours - theirs).abs().max()),
                "factor_diff": abs(ours_factor - their_factor),
            }
        )
    return rows


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    rows = rope_table()
    print("1. RoPE scalings on SmolLM2 (head_dim 64, theta 1e5) at 16,384 tokens vs transformers:")
    for row in rows:
        print(
            f"   {row['rope_type']:9s} lowest inv_freq {row['lowest_inv_freq']:.3e}  "
            f"attention factor "
            f"{row['attention_factor']:.4f}  max |diff| {row['max_abs_diff']:.1e}"
        )
    rope_diff = max(max(r["max_abs_diff"], r["factor_diff"]) for r in rows)

    T = config.attention_tokens
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 9, T, 64), torch.randn(1, 3, T, 64), torch.randn(1, 3, T, 64)
    diff = float(
        (
            tiled_attention(q, k, v, causal=True, block_q=256, block_k=256)
            - sdpa_attention(q, k, v, causal=True)
        )
        .abs()
        .max()
    )
    peaks = peak_extra_mb(["tiled", "sdpa"], H=9, Hkv=3, T=T, D=64, block=256)
    qkvo = (9 + 3 + 3 + 9) * T * 64 * 4 / 2**20
    print(
        f"2. causal attention, {T} tokens, 9 query / 3 kv heads: "
        f"tiled vs SDPA max |diff| {diff:.1e}; "
        f"peak extra memory tiled {peaks['tiled']:.1f} MiB, SDPA {peaks['sdpa']:.1f} MiB "
        f"(q, k, v, out: {qkvo:.1f} MiB; a materialised score matrix alone: "
        f"{9 * T * T * 4 / 2**20:.0f} MiB)"
    )

    model, tokenizer, _ = load_long_model(config.model, attn="tiled", block_size=256)
    n = config.passkey_trials
    depths = [(i + 0.5) / n for i in range(n)]  # centres of n equal depth bins
    trials = make_trials([config.passkey_length], depths, seed=1)
    records = run_trials(model, tokenizer, trials)
    with tempfile.TemporaryDirectory() as tmp:
        summary = write_run(records, Path(tmp) / "passkey", "demo")
    print(
        f"3. passkey on {config.model} at {config.passkey_length} tokens "
        "(our RoPE + tiled attention):"
    )
    for r in records:
        print(
            f"   depth {r['depth']:.0%}: key {r['passkey']} -> {r['answer'].strip()[:40]!r} "
            f"{'correct' if r['correct'] else 'WRONG'}"
        )
    return {
        "rope_max_abs_diff": rope_diff,
        "attention_max_abs_diff": diff,
        "attention_peak_mb": peaks["tiled"],
        "sdpa_peak_mb": peaks["sdpa"],
        "passkey_accuracy": summary["accuracy"],
        "passkey_n": summary["n"],
        "seconds": round(time.perf_counter() - start, 2),
    }
