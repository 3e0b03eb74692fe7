"""What we do not implement is refused with one line naming the option; broken folders too."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from llm_shared import UserError
from model_families.compare import TOLERANCE
from model_families.families import load
from safetensors.torch import load_file, save_file


def edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))
    return folder


def copy(tiny_dir, name, tmp_path):
    return shutil.copytree(tiny_dir[name], tmp_path / name)


@pytest.mark.parametrize("name, changes, needle", [
    ("llama", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_scaling"),
    ("llama", {"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0}},
     "rope_parameters.rope_type"),
    ("llama", {"rope_parameters": {"rope_type": "default", "rope_theta": 1e4,
                                   "partial_rotary_factor": 0.5}}, "partial_rotary_factor"),
    ("llama", {"attention_bias": True}, "attention_bias"),
    ("llama", {"mlp_bias": True}, "mlp_bias"),
    ("llama", {"hidden_act": "quick_gelu"}, "hidden_act"),
    ("llama", {"model_type": "mistral", "sliding_window": 16}, "sliding_window"),
    ("llama", {"model_type": "qwen2"}, "q/k/v biases"),
    ("llama", {"model_type": "bloom"}, "unknown model_type"),
    ("gpt2", {"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ("gpt2", {"activation_function": "gelu_fast"}, "activation_function"),
    ("bert", {"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ("t5", {"feed_forward_proj": "gated-tanh"}, "feed_forward_proj"),
])
def test_unsupported_options_are_refused_by_name(tiny_dir, tmp_path, name, changes, needle):
    folder = edit_config(copy(tiny_dir, name, tmp_path), **changes)
    with pytest.raises(UserError) as exc:
        load(folder)
    message = str(exc.value)
    assert needle in message and "\n" not in message


def test_mistral_without_sliding_window_is_a_llama(tiny_dir, tmp_path, diff_of):
    folder = edit_config(copy(tiny_dir, "llama", tmp_path), model_type="mistral",
                         sliding_window=None, architectures=["MistralForCausalLM"])
    assert max(diff_of(folder)) <= TOLERANCE


def test_missing_weights(tiny_dir, tmp_path):
    folder = copy(tiny_dir, "gpt2", tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no weights"):
        load(folder)


def test_shapes_that_do_not_match_the_config(tiny_dir, tmp_path):
    folder = edit_config(copy(tiny_dir, "llama", tmp_path), intermediate_size=48)
    with pytest.raises(UserError, match="shape"):
        load(folder)


def test_a_weight_we_have_no_place_for_is_refused(tiny_dir, tmp_path):
    folder = copy(tiny_dir, "llama", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["model.layers.0.self_attn.q_proj.bias"] = torch.zeros(32)  # a Qwen-style bias
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(UserError, match="q_proj.bias"):
        load(folder)


def test_untied_config_without_lm_head_is_refused(tiny_dir, tmp_path):
    folder = copy(tiny_dir, "llama-untied", tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["lm_head.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(UserError, match="tie_word_embeddings"):
        load(folder)


def test_not_a_folder(tmp_path):
    with pytest.raises(UserError, match="not a local folder"):
        load(tmp_path / "nope")


def test_sharded_and_legacy_bin_checkpoints_load(tiny_dir, tmp_path, diff_of):
    import transformers

    hf = transformers.GPT2LMHeadModel.from_pretrained(tiny_dir["gpt2"])
    sharded = tmp_path / "sharded"
    hf.save_pretrained(sharded, max_shard_size="20KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    assert max(diff_of(sharded)) <= TOLERANCE

    legacy = shutil.copytree(tiny_dir["gpt2"], tmp_path / "legacy")
    torch.save(load_file(legacy / "model.safetensors"), legacy / "pytorch_model.bin")
    (legacy / "model.safetensors").unlink()
    ours = load(legacy).model  # read with weights_only=True
    assert torch.equal(ours.embed.weight, hf.transformer.wte.weight)
