"""The MoE layer and its losses against transformers' Mixtral block; routing worked examples."""

import math

import pytest
import torch
from mamba_moe.bench import copy_moe_weights
from mamba_moe.moe import (
    MoE,
    MoEConfig,
    capacity,
    keep_within_capacity,
    load_balancing_loss,
    router_z_loss,
)
from transformers import MixtralConfig
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    load_balancing_loss_func,
)


def _moe(**kw):
    torch.manual_seed(0)
    layer = MoE(MoEConfig(16, 24, **kw))
    with torch.no_grad():
        layer.gate.weight.mul_(8)  # sharper routing than the init, so choices matter
    return layer


def test_moe_equals_mixtral_block():
    ours = _moe(num_experts=4, top_k=2)
    hf = MixtralSparseMoeBlock(MixtralConfig(hidden_size=16, intermediate_size=24,
                                             num_local_experts=4, num_experts_per_tok=2))
    copy_moe_weights(ours, hf)
    x = torch.randn(3, 10, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, stats = ours(x)
        torch.testing.assert_close(out, hf(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(stats.logits, hf.gate(x)[0].float(), atol=1e-6, rtol=0)
    assert stats.dropped_tokens == 0 and stats.dropped_assignments == 0


def test_load_balancing_loss_equals_transformers():
    g = torch.Generator().manual_seed(2)
    logits = [torch.randn(20, 4, generator=g) * 2 for _ in range(3)]
    ours = load_balancing_loss(logits, num_experts=4, top_k=2)
    torch.testing.assert_close(ours, load_balancing_loss_func(tuple(logits), 4, 2))


def test_load_balancing_loss_worked_example():
    """One layer, top-1, two tokens both to expert 0 with probs (0.75, 0.25):
    f = (1, 0), P = (0.75, 0.25) -> N * sum f P = 2 * 0.75 = 1.5."""
    logits = torch.log(torch.tensor([[0.75, 0.25], [0.75, 0.25]]))
    assert load_balancing_loss([logits], 2, 1).item() == pytest.approx(1.5)


def test_z_loss_worked_example():
    """logsumexp(log 0.5, log 0.5) = 0 and logsumexp(0, 0) = log 2 -> mean of 0 and log²2."""
    logits = torch.log(torch.tensor([[0.5, 0.5], [1.0, 1.0]]))
    assert router_z_loss([logits]).item() == pytest.approx(math.log(2) ** 2 / 2)


def test_capacity_and_first_come_first_served():
    assert capacity(8, MoEConfig(4, 4, num_experts=4, top_k=2, capacity_factor=1.0)) == 4
    kept = keep_within_capacity(torch.tensor([0, 0, 1, 0, 1]), 2, cap=2)
    assert kept.tolist() == [True, True, True, False, True]


def test_capacity_drops_pass_through_as_zero():
    layer = _moe(num_experts=4, top_k=1, capacity_factor=0.25)  # 1 slot per expert for 16 tokens
    x = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out, stats = layer(x)
    served = (out[0].abs().sum(-1) > 0).sum().item()
    assert stats.counts.tolist() == [min(1, c) for c in stats.counts.tolist()]
    assert stats.dropped_tokens == 16 - served == 16 - int(stats.counts.sum())
    assert stats.dropped_assignments == stats.dropped_tokens  # top-1: one assignment per token


def test_expert_choice_gives_every_expert_its_quota():
    layer = _moe(num_experts=4, top_k=2, routing="expert")
    x = torch.randn(1, 12, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out, stats = layer(x)
        probs = layer.gate(x[0]).softmax(-1)
    assert stats.counts.tolist() == [6, 6, 6, 6]  # ceil(12 * 2 / 4) tokens per expert
    # token 0's output is the prob-weighted sum over the experts that chose it
    chosen = [e for e in range(4) if 0 in probs[:, e].topk(6).indices.tolist()]
    want = sum(probs[0, e] * layer.experts[e](x[0, :1]) for e in chosen) if chosen else 0
    torch.testing.assert_close(out[0, :1], want + torch.zeros(1, 16), atol=1e-6, rtol=0)


def test_sigmoid_gating_renormalises_top_k():
    layer = _moe(num_experts=4, top_k=2, gating="sigmoid")
    x = torch.randn(1, 1, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out, _ = layer(x)
        s = layer.gate(x[0]).sigmoid()[0]
        top = s.topk(2)
        want = sum(w / top.values.sum() * layer.experts[int(e)](x[0])
                   for w, e in zip(top.values, top.indices, strict=False))
    torch.testing.assert_close(out[0], want, atol=1e-6, rtol=0)


def test_shared_expert_is_added_to_every_token():
    with_shared = _moe(num_experts=4, top_k=2, shared_expert_size=8)
    plain = _moe(num_experts=4, top_k=2)
    x = torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(with_shared(x)[0] - plain(x)[0],
                                   with_shared.shared_expert(x), atol=1e-6, rtol=0)
