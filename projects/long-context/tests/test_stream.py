"""StreamingLLM cache: eviction + re-rotation equals a fresh run on the kept tokens."""

import math

import pytest
import torch
from long_context.model import configure
from long_context.stream import _evict, streaming_nll
from transformers import DynamicCache


def test_evicted_keys_sit_at_their_cache_positions(tiny_model):
    # Layer 0's keys depend only on the token and its position, so after evicting the middle, the
    # re-rotated cache must equal layer 0 of a fresh run on the kept tokens at positions 0..12.
    # (Deeper layers differ by design: their kept entries were computed with the full context.)
    model, _ = tiny_model
    configure(model, attn="tiled", block_size=8)
    torch.manual_seed(0)
    ids = torch.randint(100, 40000, (1, 24))
    inv_freq = model.model.rotary_emb.inv_freq
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        model(ids, position_ids=torch.arange(24)[None], past_key_values=cache, use_cache=True)
        before = cache.layers[0].keys.clone()
        assert _evict(cache, sinks=3, window=10, inv_freq=inv_freq) == 11
        assert cache.get_seq_length() == 13
        kept = torch.cat([ids[:, :3], ids[:, 14:24]], dim=1)  # sinks + window
        fresh = DynamicCache(config=model.config)
        model(kept, past_key_values=fresh, use_cache=True)
    assert (before[:, :, 14:] - fresh.layers[0].keys[:, :, 3:]).abs().max() > 1e-2  # moved
    torch.testing.assert_close(cache.layers[0].keys, fresh.layers[0].keys, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cache.layers[0].values, fresh.layers[0].values)


def test_stream_without_eviction_equals_full_forward(tiny_model):
    model, _ = tiny_model
    configure(model, attn="tiled", block_size=8)
    torch.manual_seed(1)
    ids = torch.randint(100, 40000, (1, 41))
    result = streaming_nll(model, ids, sinks=4, window=64, chunk=7)
    with torch.inference_mode():
        logits = model(ids).logits[0, :-1]
    nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:])
    assert result["ppl"] == pytest.approx(math.exp(float(nll)), rel=1e-4)
    assert result["peak_cache_tokens"] == 40
