"""SmolLM2 (the real embedded model) with each scaling through our RoPE + tiled attention equals
transformers with the same rope_parameters and its SDPA attention."""

import pytest
import torch
from llm_shared import UserError
from long_context.model import configure, load_long_model

# L0 shrunk to 24 so that a 48-token prompt is "long" for every scaling (dynamic kicks in, longrope
# picks its long factors) while the forward pass stays a fraction of a second.
L0 = 24
SCALINGS = [
    ("linear", 2.0, None),
    ("dynamic", 2.0, None),
    ("yarn", 4.0, {"beta_fast": 16, "beta_slow": 1}),
    ("llama3", 8.0, {"low_freq_factor": 1.0, "high_freq_factor": 4.0}),
    (
        "longrope",
        2.0,
        {"short_factor": [1.0] * 32, "long_factor": [1.0 + 0.1 * i for i in range(32)]},
    ),
]


@pytest.fixture(scope="module")
def smollm2():
    torch.manual_seed(0)
    model, _, _ = load_long_model("smollm2-135m-instruct", attn="sdpa", ours_rope=False)
    ids = torch.randint(100, 40000, (1, 48))
    with torch.inference_mode():
        plain = model(ids).logits
    return model, ids, plain


def _logits(model, ids, **settings):
    configure(model, **settings)
    with torch.inference_mode():
        return model(ids).logits  # (1, T, V)


def test_plain_rope_and_tiled_attention_equal_transformers(smollm2):
    model, ids, plain = smollm2
    ours = _logits(model, ids, attn="tiled", block_size=16)
    torch.testing.assert_close(ours, plain, atol=1e-4, rtol=0)


@pytest.mark.parametrize("rope_type, factor, extra", SCALINGS)
def test_scaled_logits_equal_transformers(smollm2, rope_type, factor, extra):
    model, ids, plain = smollm2
    kw = dict(rope_type=rope_type, factor=factor, extra=extra, original_length=L0)
    ours = _logits(model, ids, attn="tiled", block_size=16, **kw)
    theirs = _logits(model, ids, attn="sdpa", ours_rope=False, **kw)
    assert (theirs - plain).abs().max() > 1e-2  # the scaling really changed the run
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_unsupported_settings_are_refused(smollm2):
    model = smollm2[0]
    with pytest.raises(UserError, match="unknown attention"):
        configure(model, attn="flash")
    with pytest.raises(UserError, match="supported: default, linear"):
        configure(model, rope_type="fancy", factor=2.0)
    configure(model, attn="tiled")
    with pytest.raises(UserError, match="batch 1"), torch.inference_mode():
        model(smollm2[1].repeat(2, 1))  # a batch could hide padding the kernel cannot see
