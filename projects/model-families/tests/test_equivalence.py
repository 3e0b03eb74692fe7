"""Logits and every hidden state equal transformers' (float32, <= 1e-4) on real and tiny models."""

from __future__ import annotations

import pytest
import torch
from model_families.compare import TOLERANCE, compare_folder
from model_families.families import load
from model_families.tiny import TINY


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_default_configs_match_transformers(tiny_dir, diff_of, name):
    logit_diff, hidden_diff = diff_of(tiny_dir[name])
    assert logit_diff <= TOLERANCE and hidden_diff <= TOLERANCE


@pytest.mark.parametrize("name, overrides", [
    # unusual but legal settings a user may save
    ("gpt2", dict(n_inner=40, activation_function="relu", layer_norm_epsilon=1e-2)),
    ("gpt2", dict(scale_attn_weights=False)),
    ("bert", dict(hidden_act="gelu_new", layer_norm_eps=1e-2, type_vocab_size=3)),
    ("llama", dict(num_key_value_heads=4, rms_norm_eps=0.5, rope_theta=3.0)),
    ("t5", dict(num_decoder_layers=3, relative_attention_max_distance=6)),
    ("t5-v1_1", dict(feed_forward_proj="gated-silu", layer_norm_epsilon=1e-2)),
])
def test_unusual_configs_match_transformers(save, diff_of, name, overrides):
    logit_diff, hidden_diff = diff_of(save(name, **overrides))
    assert logit_diff <= TOLERANCE and hidden_diff <= TOLERANCE


def test_embedded_smollm2_matches_transformers(diff_of):
    logit_diff, hidden_diff = diff_of("smollm2-135m-instruct")
    assert logit_diff <= TOLERANCE and hidden_diff <= TOLERANCE


def test_embedded_minilm_matches_transformers(diff_of):
    logit_diff, hidden_diff = diff_of("all-minilm-l6-v2")
    assert logit_diff <= TOLERANCE and hidden_diff <= TOLERANCE


def test_compare_report_has_the_contract_fields(tiny_dir):
    result = compare_folder(tiny_dir["t5"], repeats=1)
    assert result["family"] == "t5" and result["ok"] is True
    assert result["max_abs_logit_diff"] <= TOLERANCE
    from transformers import T5ForConditionalGeneration
    assert result["params"] == T5ForConditionalGeneration.from_pretrained(
        tiny_dir["t5"]).num_parameters()
    assert result["ours_s"] > 0 and result["hf_s"] > 0


def test_loaded_weights_are_the_checkpoints(tiny_dir):
    """Not just close logits: our GPT-2 qkv weight is the HF Conv1D weight transposed, and the
    tied head is the very embedding tensor."""
    from safetensors.torch import load_file

    ours = load(tiny_dir["gpt2"]).model
    raw = load_file(tiny_dir["gpt2"] / "model.safetensors")
    conv1d = raw["transformer.h.1.attn.c_attn.weight"]  # (in, 3 * out)
    assert torch.equal(ours.layers[1].attn.qkv.weight, conv1d.t())
    assert ours.head.weight is ours.embed.weight
