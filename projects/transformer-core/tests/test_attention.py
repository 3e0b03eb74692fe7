"""Attention against torch's modules and against hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from transformer_core.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_core.positions import Rotary, alibi_bias, alibi_slopes, sinusoidal_table
from transformer_core.reference import check_attention, torch_mha_from


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_torch_multihead_attention_and_sdpa(seed):
    result = check_attention(seed)
    assert result["mha_max_abs_diff"] <= 1e-5
    assert result["sdpa_max_abs_diff"] <= 1e-5


def test_scale_is_one_over_sqrt_dk_worked_example():
    q = torch.tensor([[[[2.0, 0, 0, 0]]]])  # (1, 1, 1, 4): d_k = 4, so the scale is 1/2
    k = torch.tensor([[[[1.0, 0, 0, 0], [0, 0, 0, 0]]]])  # scores 2/2 = 1 and 0
    v = torch.tensor([[[[1.0], [0.0]]]])
    out, weights = scaled_dot_product_attention(q, k, v)
    e = math.e
    assert weights.flatten().tolist() == pytest.approx([e / (1 + e), 1 / (1 + e)], abs=1e-6)
    assert out.item() == pytest.approx(e / (1 + e), abs=1e-6)


def _with_same_weights(src: MultiHeadAttention, dst: MultiHeadAttention) -> MultiHeadAttention:
    dst.load_state_dict(src.state_dict())
    return dst


def test_gqa_with_as_many_kv_heads_as_heads_is_mha():
    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4)
    gqa = _with_same_weights(mha, MultiHeadAttention(32, 4, num_kv_heads=4))
    x = torch.randn(2, 5, 32)
    ref = torch_mha_from(mha)(x, x, x, need_weights=False)[0]
    assert torch.allclose(gqa.attend(x, x), ref, atol=1e-5)


@pytest.mark.parametrize("kv_heads", [1, 2])  # MQA, GQA
def test_grouped_heads_equal_sdpa_enable_gqa_with_causal_mask(kv_heads):
    torch.manual_seed(1)
    attn = MultiHeadAttention(32, 4, num_kv_heads=kv_heads)
    assert attn.k_proj.out_features == kv_heads * 8  # fewer key/value weights, smaller cache
    x = torch.randn(2, 6, 32)
    q = attn._split(attn.q_proj(x), 4)
    k, v = attn.project_kv(x)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    ref = attn.out_proj(ref.transpose(1, 2).reshape(2, 6, 32))
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    assert torch.allclose(attn.attend(x, x, causal), ref, atol=1e-5)


def test_sinusoidal_table_matches_the_formula():
    table = sinusoidal_table(50, 8)
    for pos, i in [(0, 0), (7, 1), (49, 3)]:
        angle = pos / 10000 ** (2 * i / 8)
        assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_rope_worked_example_and_relative_positions():
    rotary = Rotary(2)
    x = torch.tensor([[[[1.0, 0.0]]]])  # (1, 1, 1, 2)
    rotated = rotary(x, torch.tensor([1]))  # angle 1 rad
    assert rotated.flatten().tolist() == pytest.approx([math.cos(1), math.sin(1)], abs=1e-6)
    # q·k depends only on the distance: (m, n) = (3, 1) and (10, 8) give the same score
    rotary = Rotary(8)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    near = (rotary(q, torch.tensor([3])) * rotary(k, torch.tensor([1]))).sum()
    far = (rotary(q, torch.tensor([10])) * rotary(k, torch.tensor([8]))).sum()
    assert near.item() == pytest.approx(far.item(), abs=1e-5)


def test_alibi_slopes_and_bias_from_the_paper():
    assert alibi_slopes(8).tolist() == pytest.approx([2.0 ** -i for i in range(1, 9)])
    # 6 heads (not a power of two): the 4-head slopes, then every other 8-head slope
    assert alibi_slopes(6).tolist() == pytest.approx([2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8,
                                                      2 ** -1, 2 ** -3])
    positions = torch.arange(3)
    causal = alibi_bias(torch.tensor([0.5]), positions, positions, causal=True)
    assert causal[0, 2].tolist() == [-1.0, -0.5, 0.0]
    both_ways = alibi_bias(torch.tensor([0.5]), positions, positions, causal=False)
    assert both_ways[0, 0].tolist() == [0.0, -0.5, -1.0]
