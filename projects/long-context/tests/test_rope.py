"""RoPE formulas against transformers' ROPE_INIT_FUNCTIONS, worked values and properties."""

import math

import pytest
import torch
from llm_shared import UserError
from long_context.rope import (
    RopeSpec,
    apply_rope,
    cos_sin,
    default_inv_freq,
    rope_frequencies,
    rotate_half,
)
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

BASE = {
    "hidden_size": 576,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
}
SCALINGS = {
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048},
    "yarn-mscale": {
        "rope_type": "yarn",
        "factor": 8.0,
        "mscale": 0.707,
        "mscale_all_dim": 1.0,
        "beta_fast": 16,
        "beta_slow": 2,
        "truncate": False,
        "original_max_position_embeddings": 4096,
    },
    "llama3": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 2048,
    },
    "longrope": {
        "rope_type": "longrope",
        "factor": 4.0,
        "original_max_position_embeddings": 2048,
        "short_factor": [1.0 + 0.01 * i for i in range(32)],
        "long_factor": [1.0 + 0.5 * i for i in range(32)],
    },
}


def hf(config: dict, seq_len):
    cfg = LlamaConfig(**config)
    kind = cfg.rope_parameters["rope_type"]
    return ROPE_INIT_FUNCTIONS[kind](cfg, "cpu", seq_len=seq_len)


@pytest.mark.parametrize("name", sorted(SCALINGS))
@pytest.mark.parametrize("seq_len", [None, 1000, 30000])
def test_equals_transformers_5_rope_parameters(name, seq_len):
    params = {**SCALINGS[name], "rope_theta": 100000.0}
    config = {**BASE, "rope_parameters": params}
    ours, ours_factor = rope_frequencies(RopeSpec.from_config(config), seq_len)
    theirs, their_factor = hf(config, seq_len)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    assert ours_factor == pytest.approx(their_factor, rel=1e-6)


@pytest.mark.parametrize("name", ["linear", "dynamic", "yarn", "llama3"])
def test_equals_transformers_4x_rope_scaling(name):
    scaling = {("type" if k == "rope_type" else k): v for k, v in SCALINGS[name].items()}
    config = {**BASE, "rope_scaling": scaling}
    ours, factor = rope_frequencies(RopeSpec.from_config(config), 12000)
    theirs, their_factor = hf(config, 12000)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    assert factor == pytest.approx(their_factor)


def test_worked_values():
    # theta 10000, d = 4: [10000^0, 10000^-0.5] = [1, 0.01]
    torch.testing.assert_close(default_inv_freq(10000.0, 4), torch.tensor([1.0, 0.01]))
    # YaRN attention factor 0.1 ln(4) + 1 = 1.138629...
    spec = RopeSpec.from_config({**BASE, "rope_parameters": SCALINGS["yarn"]})
    assert rope_frequencies(spec)[1] == pytest.approx(1.1386294361)
    # static NTK on d=4, factor 4: base 10000 * 4^(4/2) = 160000 -> [1, 160000^-0.5 = 0.0025]
    ntk = RopeSpec(head_dim=4, theta=10000.0, rope_type="ntk", factor=4.0)
    torch.testing.assert_close(rope_frequencies(ntk)[0], torch.tensor([1.0, 0.0025]))
    assert rotate_half(torch.tensor([1.0, 2, 3, 4])).tolist() == [-3, -4, 1, 2]


def test_dynamic_is_plain_rope_up_to_original_length():
    spec = RopeSpec.from_config(
        {**BASE, "rope_parameters": {**SCALINGS["dynamic"], "rope_theta": 1e5}}
    )
    plain = default_inv_freq(1e5, 64)
    for n in (1, 4096, 8192):
        assert torch.equal(rope_frequencies(spec, n)[0], plain)
    assert (rope_frequencies(spec, 8193)[0][1:] < plain[1:]).all()


def test_yarn_keeps_high_frequencies_and_divides_low_ones():
    spec = RopeSpec.from_config({**BASE, "rope_parameters": SCALINGS["yarn"]})
    inv, _ = rope_frequencies(spec)
    plain = default_inv_freq(spec.theta, 64)
    wavelength = 2 * math.pi / plain
    fast = wavelength < spec.original_length / 32  # turns > beta_fast times over L0
    slow = wavelength > spec.original_length / 1  # turns < beta_slow times
    assert fast.any() and slow.any()
    torch.testing.assert_close(inv[fast], plain[fast])
    torch.testing.assert_close(inv[slow], plain[slow] / 4.0)


def test_rotation_preserves_norm_and_is_relative():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 64), torch.randn(1, 1, 1, 64)
    inv = default_inv_freq(1e5, 64)

    def score(pq, pk):
        cq, sq = cos_sin(inv, torch.tensor([pq]))
        ck, sk = cos_sin(inv, torch.tensor([pk]))
        return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum()

    torch.testing.assert_close(score(10, 3), score(1010, 1003), atol=1e-3, rtol=1e-4)
    c, s = cos_sin(inv, torch.tensor([777]))
    torch.testing.assert_close(apply_rope(q, c, s).norm(), q.norm())


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"rope_type": "fancy", "factor": 2.0}, "supported: default, linear"),
        ({"rope_type": "linear", "factor": 0.5}, "factor must be >= 1"),
        ({"rope_type": "linear"}, "needs a 'factor'"),
    ],
)
def test_bad_specs_are_user_errors(bad, message):
    with pytest.raises(UserError, match=message):
        RopeSpec.from_config({**BASE, "rope_parameters": bad})
