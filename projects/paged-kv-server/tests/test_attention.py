"""Paged attention against plain causal SDPA on contiguous K/V (GQA by repeating heads, as HF).

One flat batch mixes fresh prefills, prefill chunks after a cached prefix and more single-token
decodes than one decode group holds (so several length-sorted groups run), with each sequence's
blocks scattered over the cache in random order. A bfloat16 check of the whole model: prefill
logits equal HF's bfloat16 forward.
"""

import random

import pytest
import torch
import torch.nn.functional as F
from llm_shared import load_causal_lm
from paged_kv_server import SamplingParams
from paged_kv_server.attention import (
    DECODE_GROUP_SIZE,
    PREFILL_QUERY_SLICE,
    build_metadata,
    paged_attention,
)
from paged_kv_server.sequence import Sequence

H, N_KV, D, BS, NUM_BLOCKS = 6, 2, 8, 4, 400


def _reference(q, k, v, offset):
    """q (T, H, D) at positions offset.., k/v (offset+T, n_kv, D) -> (T, H*D)."""
    T, S = q.shape[0], k.shape[0]
    kh = k.repeat_interleave(H // N_KV, dim=1).transpose(0, 1)  # (H, S, D)
    vh = v.repeat_interleave(H // N_KV, dim=1).transpose(0, 1)
    allowed = torch.arange(S)[None, :] <= torch.arange(T)[:, None] + offset  # (T, S)
    out = F.scaled_dot_product_attention(q.transpose(0, 1), kh, vh, attn_mask=allowed)
    return out.transpose(0, 1).reshape(T, H * D)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_paged_attention_matches_contiguous_sdpa(dtype):
    rng = random.Random(0)
    g = torch.Generator().manual_seed(0)
    # (tokens already cached, tokens computed now): fresh prefills, chunks after a prefix (some
    # longer than PREFILL_QUERY_SLICE, so they are sliced), decodes
    work = [(0, 150), (0, 5), (12, 9), (40, 100)] + [(rng.randint(1, 90), 1)
                                                   for _ in range(DECODE_GROUP_SIZE + 5)]
    free = list(range(NUM_BLOCKS))
    rng.shuffle(free)
    k_cache = torch.zeros(N_KV, NUM_BLOCKS, BS, D, dtype=dtype)
    v_cache = torch.zeros_like(k_cache)
    full_k, full_v, chunks, slots, row = [], [], [], [], 0
    for cached, new in work:
        total = cached + new
        table = [free.pop() for _ in range((total - 1) // BS + 1)]
        k = torch.randn(total, N_KV, D, generator=g).to(dtype)
        v = torch.randn(total, N_KV, D, generator=g).to(dtype)
        for p in range(cached):  # the prefix is in the cache from earlier steps
            k_cache[:, table[p // BS], p % BS] = k[p]
            v_cache[:, table[p // BS], p % BS] = v[p]
        full_k.append(k)
        full_v.append(v)
        chunks.append((row, new, total, table))
        slots += [table[p // BS] * BS + p % BS for p in range(cached, total)]
        row += new
    meta = build_metadata(chunks, slots, BS, H // N_KV, torch.device("cpu"), dtype)
    assert len(meta.decodes) == 2 and len(meta.prefills) == 4
    assert max(p.length for p in meta.prefills) > 2 * PREFILL_QUERY_SLICE
    q = torch.randn(row, H, D, generator=g).to(dtype)
    k_new = torch.cat([k[c:] for k, (c, _) in zip(full_k, work, strict=True)])
    v_new = torch.cat([v[c:] for v, (c, _) in zip(full_v, work, strict=True)])
    out = paged_attention(q, k_new, v_new, k_cache, v_cache, meta, D ** -0.5)  # (N, H*D)
    tol = {} if dtype == torch.float32 else {"rtol": 2e-2, "atol": 2e-2}
    for (start, new, _, _), (cached, _), k, v in zip(chunks, work, full_k, full_v, strict=True):
        rows = slice(start, start + new)
        ref = _reference(q[rows].float(), k.float(), v.float(), cached)
        torch.testing.assert_close(out[rows].float(), ref, **tol)
    # The new tokens' K/V went into their slots.
    for (_, _, total, table), k in zip(chunks, full_k, strict=True):
        p = total - 1
        assert torch.equal(k_cache[:, table[p // BS], p % BS], k[p])


def test_bfloat16_prefill_logits_equal_hf_bfloat16(tiny_engine, random_prompts):
    """Mixed precision is HF's: same bf16 casts, float32 RMSNorm, so the logits agree."""
    engine = tiny_engine(dtype="bfloat16", max_num_batched_tokens=512)
    hf, _ = load_causal_lm("tiny-llama", device="cpu", dtype=torch.bfloat16)
    prompt = random_prompts(1, 60, 61, seed=4)[0]
    seq = Sequence(prompt, SamplingParams(temperature=0))
    engine.block_manager.allocate_slots(seq, len(prompt))
    ids, positions, meta, _, _ = engine._prepare([seq], [len(prompt)])
    ours = engine.model.forward(ids, positions, meta, engine.k_cache, engine.v_cache,
                                torch.arange(len(prompt)))
    with torch.inference_mode():
        ref = hf(torch.tensor([prompt])).logits[0].float()
    torch.testing.assert_close(ours, ref, rtol=2e-2, atol=2e-2)
    assert (ours.argmax(-1) == ref.argmax(-1)).float().mean() > 0.95
