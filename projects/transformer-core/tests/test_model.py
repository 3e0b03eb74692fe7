"""The encoder-decoder against torch.nn.Transformer, the KV cache against recomputation, beam
search against greedy, the FLOPs count against torch's FlopCounterMode, loss and schedule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
from transformer_core.decode import beam_search, greedy
from transformer_core.info import forward_flops
from transformer_core.model import DecoderCache, Transformer
from transformer_core.reference import check_transformer
from transformer_core.tasks import BOS
from transformer_core.train import label_smoothed_loss, noam_lr


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_equal_to_torch_transformer_outputs_and_gradients(norm):
    result = check_transformer(seed=0, norm=norm)
    assert result["transformer_max_abs_diff"] <= 1e-5
    assert result["grad_max_abs_diff"] <= 1e-5


def _random_model(make_model_config, **overrides) -> Transformer:
    torch.manual_seed(0)
    return Transformer(make_model_config(**overrides)).eval()


VARIANTS = [dict(position=p, attention=a) for p in ("sinusoidal", "learned", "rope", "alibi")
            for a in ("mha", "mqa", "gqa")] + [dict(norm="pre", activation="swiglu"),
                                                dict(activation="gelu")]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v.values()))
def test_kv_cache_logits_equal_full_recomputation(make_model_config, variant):
    model = _random_model(make_model_config, **variant)
    src = torch.tensor([[5, 6, 7, 8, 9], [4, 3, 0, 0, 0]])  # second row padded
    tgt = torch.tensor([[BOS, 3, 4, 5, 6, 7], [BOS, 8, 9, 10, 11, 12]])
    with torch.no_grad():
        full = model(src, tgt)  # (B, T, V)
        memory, src_mask = model.encode(src)
        cache = DecoderCache()
        stepwise = torch.cat([model.decode(tgt[:, t:t + 1], memory, src_mask, cache)
                              for t in range(tgt.shape[1])], dim=1)
    assert cache.length == tgt.shape[1]
    assert torch.allclose(stepwise, full, atol=1e-5)


def test_cached_greedy_equals_uncached_and_beam_one(make_model_config):
    model = _random_model(make_model_config, position="rope", attention="gqa")
    src = torch.randint(3, 13, (4, 6))
    cached = greedy(model, src, max_new=8)
    assert cached == greedy(model, src, max_new=8, use_cache=False)
    for row, expected in zip(src, cached, strict=True):
        assert beam_search(model, row[None], beam=1, max_new=8) == expected


def test_flops_count_matches_torch_flop_counter(make_model_config):
    config = make_model_config(attention="gqa", activation="swiglu")
    model = Transformer(config)
    src, tgt = torch.randint(3, 13, (2, 7)), torch.randint(3, 13, (2, 5))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(src, tgt)
    assert sum(forward_flops(config, 7, 5, batch=2).values()) == counter.get_total_flops()


@pytest.mark.parametrize("epsilon", [0.0, 0.1])
def test_label_smoothing_equals_torch_cross_entropy(epsilon):
    torch.manual_seed(0)
    logits, target = torch.randn(10, 14), torch.randint(0, 14, (10,))
    target[:3] = 0  # padding
    ref = F.cross_entropy(logits, target, ignore_index=0, label_smoothing=epsilon)
    assert label_smoothed_loss(logits, target, epsilon).item() == pytest.approx(ref.item(),
                                                                                abs=1e-6)


def test_noam_schedule_worked_values():
    # d = 512, warm-up 4000 (the paper): peak 512^-0.5 · 4000^-0.5 at step 4000
    assert noam_lr(4000, 512, 4000) == pytest.approx(512 ** -0.5 * 4000 ** -0.5)
    assert noam_lr(1000, 512, 4000) == pytest.approx(noam_lr(4000, 512, 4000) / 4)  # linear
    assert noam_lr(16000, 512, 4000) == pytest.approx(noam_lr(4000, 512, 4000) / 2)  # 1/√step
