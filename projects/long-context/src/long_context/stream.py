"""StreamingLLM: perplexity over an endless stream with a KV cache of S sinks + W recent tokens.

The stream is fed in chunks; after each chunk the cache keeps its first S entries (the attention
sinks: the tokens every head dumps surplus attention on) and its last W, and drops the middle.
Positions are assigned inside the cache, not in the stream: the token after a cache of n entries
gets position n, and the kept recent keys are re-rotated back by the number of tokens evicted
before them (RoPE composes, R(p - d) = R(-d) R(p), so one extra rotation moves a cached key to its
new slot exactly). The model therefore never sees a position beyond S + W + chunk, however long the
stream. With S = 0 it is a plain sliding window, the baseline that collapses once the first tokens
leave the cache.

Leaves out batching and re-computation of evicted tokens. Run:
`long-context stream --sinks 4 --window 252 --tokens 20000 --json`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from llm_shared import UserError, track

from .rope import apply_rope, cos_sin


def stream_ids(tokenizer: Any, tokens: int) -> torch.Tensor:
    """The first `tokens` tokens of the workspace corpus (topics, then docstrings): (1, tokens)."""
    from llm_shared import corpus_text

    text = corpus_text(("topics", "docstrings"), max_chars=tokens * 8)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"][:, :tokens]
    if ids.shape[1] < tokens:
        raise UserError(
            f"the corpus has only {ids.shape[1]} tokens; use --tokens <= {ids.shape[1]}"
        )
    return ids


def _evict(cache: Any, sinks: int, window: int, inv_freq: torch.Tensor) -> int:
    """Keep the first `sinks` and last `window` cache entries; re-rotate the kept recent keys."""
    length = cache.get_seq_length()
    evicted = length - sinks - window
    if evicted <= 0:
        return 0
    # Rotating by -evicted positions: cos(-x) = cos x, sin(-x) = -sin x.
    cos, sin = cos_sin(inv_freq, torch.tensor([evicted]))  # (1, D) each
    for layer in cache.layers:
        keys, values = layer.keys, layer.values  # (B, Hkv, length, D)
        recent = apply_rope(keys[:, :, length - window :], cos.to(keys.dtype), -sin.to(keys.dtype))
        layer.keys = torch.cat([keys[:, :, :sinks], recent], dim=2)  # (B, Hkv, S + W, D)
        layer.values = torch.cat([values[:, :, :sinks], values[:, :, length - window :]], dim=2)
    return evicted


@torch.inference_mode()
def streaming_nll(
    model: Any, ids: torch.Tensor, *, sinks: int, window: int, chunk: int
) -> dict[str, Any]:
    """Per-token NLL sums over a stream (1, N) fed in chunks through a sinks + window cache.

    Returns total and segment (first S + W tokens, last quarter) perplexities and the cache peak.
    """
    from transformers import DynamicCache

    inv_freq = model.model.rotary_emb.inv_freq.float().cpu()
    cache = DynamicCache(config=model.config)
    N = ids.shape[1]
    first_len = min(sinks + window, N - 1)
    last_from = N - 1 - (N - 1) // 4
    total = first = last = 0.0
    n_last = 0
    peak_cache = 0
    for start in track(range(0, N - 1, chunk), "stream", total=math.ceil((N - 1) / chunk)):
        x = ids[:, start : min(start + chunk, N - 1)]  # (1, c)
        targets = ids[:, start + 1 : start + 1 + x.shape[1]]  # (1, c)
        offset = cache.get_seq_length()
        positions = torch.arange(offset, offset + x.shape[1])[None]  # (1, c) inside the cache
        logits = model(x, position_ids=positions, past_key_values=cache, use_cache=True).logits
        nll = torch.nn.functional.cross_entropy(logits[0].float(), targets[0], reduction="none")
        index = torch.arange(start, start + x.shape[1])  # stream index of each predicting token
        total += float(nll.sum())
        first += float(nll[index < first_len].sum())
        last += float(nll[index >= last_from].sum())
        n_last += int((index >= last_from).sum())
        peak_cache = max(peak_cache, cache.get_seq_length())
        _evict(cache, sinks, window, inv_freq)
    return {
        "tokens": N,
        "sinks": sinks,
        "window": window,
        "chunk": chunk,
        "ppl": round(math.exp(total / (N - 1)), 4),
        "first_window_ppl": round(math.exp(first / first_len), 4),
        "last_quarter_ppl": round(math.exp(last / n_last), 4),
        "peak_cache_tokens": peak_cache,
    }
