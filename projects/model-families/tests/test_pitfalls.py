"""The README's pitfalls, one test each: our code matches transformers on a config that exposes
the pitfall, and the same model with the pitfall reintroduced (patched in) does not. If someone
reintroduces one in the code, the first assertion of its test fails."""

from __future__ import annotations

import pytest
import torch
from model_families import gpt2, llama, t5
from model_families.compare import TOLERANCE, fixed_inputs
from model_families.families import load
from safetensors.torch import load_file

BROKEN = 1e-3  # a reintroduced pitfall moves the logits by far more than float32 noise


def test_layer_norm_eps_is_read_from_the_config(save, diff_of):
    folder = save("bert", layer_norm_eps=1e-2)  # BERT's usual 1e-12 would be wrong here
    assert max(diff_of(folder)) <= TOLERANCE
    loaded = load(folder)
    for module in loaded.model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = 1e-12
    assert diff_of(folder, loaded)[0] > BROKEN


def test_rms_norm_eps_is_read_from_the_config(save, diff_of):
    folder = save("llama", rms_norm_eps=0.5)
    assert max(diff_of(folder)) <= TOLERANCE
    loaded = load(folder)
    for module in loaded.model.modules():
        if isinstance(module, llama.RMSNorm):
            module.eps = 1e-6
    assert diff_of(folder, loaded)[0] > BROKEN


def test_gpt2_conv1d_weights_are_transposed(tiny_dir, diff_of, monkeypatch):
    assert max(diff_of(tiny_dir["gpt2"])) <= TOLERANCE

    # Forgetting the transpose on a non-square matrix fails to load; on the square c_proj it
    # loads silently and gives wrong logits - the dangerous case.
    def transpose_non_square_only(name, tensor):
        is_conv = name.startswith("layers.") and name.endswith(".weight") and tensor.dim() == 2
        return tensor.t() if is_conv and tensor.shape[0] != tensor.shape[1] else tensor

    monkeypatch.setattr(gpt2, "conv1d_to_linear", transpose_non_square_only)
    assert diff_of(tiny_dir["gpt2"])[0] > BROKEN


def test_rope_uses_the_half_rotation_layout(tiny_dir, diff_of, monkeypatch):
    assert max(diff_of(tiny_dir["llama"])) <= TOLERANCE

    def rotate_interleaved(x):  # Meta's original pairing (2i, 2i+1)
        return torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).flatten(-2)

    monkeypatch.setattr(llama, "rotate_half", rotate_interleaved)
    assert diff_of(tiny_dir["llama"])[0] > BROKEN


def test_t5_attention_is_not_scaled(tiny_dir, diff_of, monkeypatch):
    assert max(diff_of(tiny_dir["t5"])) <= TOLERANCE
    monkeypatch.setattr(t5, "ATTENTION_SCALE", 16 ** -0.5)  # 1/sqrt(d_kv), as in BERT/GPT-2
    assert diff_of(tiny_dir["t5"])[0] > BROKEN


def test_t5_relative_bias_is_shared_by_all_layers(tiny_dir, diff_of, monkeypatch):
    raw = load_file(tiny_dir["t5"] / "model.safetensors")
    stored = sorted(k for k in raw if "relative_attention_bias" in k)
    assert stored == [f"{s}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
                      for s in ("decoder", "encoder")]  # only the first layer has the table
    assert max(diff_of(tiny_dir["t5"])) <= TOLERANCE

    def first_layer_only(self, x, cache=None, memory=None):  # the pitfall: bias in layer 0 only
        bias = self.position_bias(x.shape[1], x.shape[1], 0)
        hidden = [x]
        for i, block in enumerate(self.layers):
            x = block(x, bias if i == 0 else torch.zeros_like(bias), cache, i, memory)
            hidden.append(x)
        x = self.norm(x)
        return x, hidden[:-1] + [x]

    monkeypatch.setattr(t5.Stack, "forward", first_layer_only)
    assert diff_of(tiny_dir["t5"])[0] > BROKEN


def test_tied_and_untied_heads(tiny_dir, diff_of):
    tied = load_file(tiny_dir["llama"] / "model.safetensors")
    assert "lm_head.weight" not in tied  # a tied checkpoint stores the matrix once
    model = load(tiny_dir["llama"]).model
    assert model.head.weight is model.embed.weight
    assert max(diff_of(tiny_dir["llama-untied"])) <= TOLERANCE
    loaded = load(tiny_dir["llama-untied"])
    loaded.model.head.weight = loaded.model.embed.weight  # tying an untied model
    assert diff_of(tiny_dir["llama-untied"], loaded)[0] > BROKEN


@pytest.mark.parametrize("name", ["t5", "t5-v1_1"])
def test_t5_output_scaling_follows_the_version(tiny_dir, diff_of, name):
    loaded = load(tiny_dir[name])
    assert loaded.model.cfg.scale_decoder_output is (name == "t5")  # v1.0 scales, v1.1 not
    assert max(diff_of(tiny_dir[name], loaded)) <= TOLERANCE
    loaded.model.cfg.scale_decoder_output = not loaded.model.cfg.scale_decoder_output
    assert diff_of(tiny_dir[name], loaded)[0] > BROKEN


def test_bert_token_type_embeddings_are_added(tiny_dir, diff_of, monkeypatch):
    loaded = load(tiny_dir["bert"])
    assert fixed_inputs(loaded)["token_type_ids"].max() == 1  # segment B is exercised
    assert max(diff_of(tiny_dir["bert"], loaded)) <= TOLERANCE
    with torch.no_grad():
        loaded.model.type_embed.weight.zero_()  # the pitfall: token types ignored
    assert diff_of(tiny_dir["bert"], loaded)[0] > BROKEN
