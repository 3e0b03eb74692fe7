"""Tiled attention against PyTorch SDPA (float32, 1e-5) on odd shapes, GQA and decode steps."""

import math

import pytest
import torch
from llm_shared import UserError
from long_context.attention import naive_attention, sdpa_attention, tiled_attention

CASES = [  # (B, H, Hkv, Tq, Tk, D, causal, block_q, block_k)
    (1, 1, 1, 1, 1, 8, True, 1, 1),
    (2, 4, 4, 37, 37, 16, True, 8, 5),  # odd length, blocks that do not divide it
    (1, 9, 3, 77, 77, 64, True, 16, 32),  # SmolLM2's GQA (9 query heads over 3 kv heads)
    (1, 6, 2, 1, 129, 32, True, 64, 64),  # a decode step: one query at the end of the cache
    (1, 4, 1, 13, 100, 16, True, 4, 7),  # chunked prefill over a cache (bottom-right causal)
    (2, 8, 2, 50, 70, 16, False, 16, 16),  # non-causal cross lengths
    (1, 2, 2, 300, 300, 8, True, 300, 300),  # one tile
]


@pytest.mark.parametrize("B, H, Hkv, Tq, Tk, D, causal, bq, bk", CASES)
def test_tiled_equals_sdpa(B, H, Hkv, Tq, Tk, D, causal, bq, bk):
    torch.manual_seed(Tq * 31 + Tk)
    q = torch.randn(B, H, Tq, D)
    k, v = torch.randn(B, Hkv, Tk, D), torch.randn(B, Hkv, Tk, D)
    ours = tiled_attention(q, k, v, causal=causal, block_q=bq, block_k=bk)
    torch.testing.assert_close(ours, sdpa_attention(q, k, v, causal=causal), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(naive_attention(q, k, v, causal=causal), ours, atol=1e-5, rtol=1e-5)


def test_gqa_matches_repeat_kv_head_mapping():
    # Query head h must read kv head h // (H / Hkv): with v constant per kv head and q = 0
    # (uniform weights), head h's output is exactly kv head h // 3's constant.
    q = torch.zeros(1, 6, 5, 4)
    k = torch.randn(1, 2, 5, 4)
    v = torch.stack([torch.full((5, 4), 10.0), torch.full((5, 4), 20.0)])[None]  # (1, 2, 5, 4)
    out = tiled_attention(q, k, v, block_q=2, block_k=2)
    assert out[0, :, 0, 0].tolist() == [10.0, 10.0, 10.0, 20.0, 20.0, 20.0]


def test_worked_example_causal_two_tokens():
    # D = 1 (scale 1), q = 1, k = [0, ln 3]: row 0 sees only v0 = 4; row 1 weighs the keys
    # e^0 : e^ln3 = 1 : 3, so (4 + 3 * 8) / 4 = 7.
    q = torch.ones(1, 1, 2, 1)
    k = torch.tensor([0.0, math.log(3)]).view(1, 1, 2, 1)
    v = torch.tensor([4.0, 8.0]).view(1, 1, 2, 1)
    out = tiled_attention(q, k, v, causal=True, block_q=1, block_k=1)
    torch.testing.assert_close(out.flatten(), torch.tensor([4.0, 7.0]))


def test_large_scores_do_not_overflow():
    # Scores near 1e4 overflow exp() without the running max; the online softmax stays exact.
    q = torch.full((1, 1, 3, 2), 100.0)
    k = torch.tensor([[100.0, 100.0], [99.0, 99.0], [101.0, 101.0]]).view(1, 1, 3, 2)
    v = torch.eye(3)[None, None, :, :2].contiguous()
    out = tiled_attention(q, k, v, block_k=1)
    torch.testing.assert_close(out, sdpa_attention(q, k, v))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((1, 6, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8)), "multiple of key/value heads"),
        (((1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 5, 8)), "same shape"),
        (((1, 2, 4, 8), (1, 2, 4, 16), (1, 2, 4, 16)), "agree on batch and head dim"),
        (((1, 2, 9, 8), (1, 2, 4, 8), (1, 2, 4, 8)), "Tq <= Tk"),
    ],
)
def test_bad_shapes_are_user_errors(shapes, message):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(UserError, match=message):
        tiled_attention(q, k, v, causal=True)


def test_peak_memory_is_linear_not_quadratic():
    from long_context.memory import peak_extra_mb

    T, H, D = 2048, 4, 64
    peaks = peak_extra_mb(["tiled", "naive"], H=H, Hkv=2, T=T, D=D, block=128)
    qkvo_mb = (2 * H + 2 * 2) * T * D * 4 / 2**20  # q, out (H heads) and k, v (2 heads): 6 MiB
    scores_mb = H * T * T * 4 / 2**20  # one float32 score matrix: 64 MiB
    assert peaks["naive"] >= scores_mb  # the probe sees the quadratic buffer ...
    assert peaks["tiled"] < 2 * qkvo_mb  # ... and the tiled path stays within the bound
