"""Our Mamba and Mixtral against transformers on the same saved folders."""

import json

import pytest
import torch
from llm_shared import UserError, model_path
from mamba_moe.checkpoint import load_model, save_model
from transformers import AutoModelForCausalLM


@pytest.fixture(scope="module")
def hf_models(hf_mamba_dir, hf_mixtral_dir):
    return {k: AutoModelForCausalLM.from_pretrained(d).eval()
            for k, d in (("mamba", hf_mamba_dir), ("mixtral", hf_mixtral_dir))}


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_mamba_logits_equal_transformers(hf_mamba_dir, hf_models, ids, scan):
    kind, ours = load_model(hf_mamba_dir)
    assert kind == "mamba"
    with torch.no_grad():
        ref = hf_models["mamba"](ids, use_cache=False).logits
        torch.testing.assert_close(ours(ids, scan=scan)[0], ref, atol=1e-4, rtol=0)


def test_mixtral_logits_equal_transformers(hf_mixtral_dir, hf_models, ids):
    kind, ours = load_model(hf_mixtral_dir)
    assert kind == "mixtral"
    with torch.no_grad():
        ref = hf_models["mixtral"](ids, use_cache=False).logits
        logits, stats = ours(ids)
    torch.testing.assert_close(logits, ref, atol=1e-4, rtol=0)
    # every token reaches two distinct experts when there is no capacity limit
    assert [int(s.counts.sum()) for s in stats] == [2 * ids.numel()] * 2


@pytest.mark.parametrize("kind", ["mamba", "mixtral"])
def test_greedy_equals_transformers_generate(kind, hf_mamba_dir, hf_mixtral_dir, hf_models, ids):
    _, ours = load_model(hf_mamba_dir if kind == "mamba" else hf_mixtral_dir)
    with torch.no_grad():
        ref = hf_models[kind].generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10,
                                       do_sample=False, eos_token_id=None,
                                       pad_token_id=0)[:, ids.shape[1]:]
    new, _ = ours.generate(ids, 10)
    assert torch.equal(new, ref)


def test_mamba_recurrent_steps_equal_full_forward(hf_mamba_dir, ids):
    """Prefill 5 tokens with the scan, then step: each step's logits = the full forward's."""
    _, ours = load_model(hf_mamba_dir)
    with torch.no_grad():
        full, _ = ours(ids)
        logits, states = ours(ids[:, :5], want_state=True)
        torch.testing.assert_close(logits, full[:, :5], atol=1e-5, rtol=0)
        for t in range(5, ids.shape[1]):
            step_logits, states = ours.step(ids[:, t], states)
            torch.testing.assert_close(step_logits, full[:, t], atol=1e-4, rtol=0)
    # O(1) state: conv window (K-1) and SSM state per layer, whatever the length
    D, N = ours.config.intermediate_size, ours.config.state_size
    assert [tuple(s.conv.shape) + tuple(s.ssm.shape) for s in states] == [(2, D, 3, 2, D, N)] * 2


def test_mixtral_kv_cache_equals_full_forward(hf_mixtral_dir, ids):
    _, ours = load_model(hf_mixtral_dir)
    cache = [[] for _ in ours.model.layers]
    with torch.no_grad():
        full, _ = ours(ids)
        ours(ids[:, :30], cache)
        part, _ = ours(ids[:, 30:], cache)
    torch.testing.assert_close(part, full[:, 30:], atol=1e-5, rtol=0)
    assert cache[0][0].shape == (2, 2, 40, 8)  # (Bt, KV heads, T, head_dim): grows with T


@pytest.mark.parametrize("kind", ["mamba", "mixtral"])
def test_saved_folder_loads_in_transformers(kind, hf_mamba_dir, hf_mixtral_dir, hf_models, ids,
                                            tmp_path):
    _, ours = load_model(hf_mamba_dir if kind == "mamba" else hf_mixtral_dir)
    save_model(ours, tmp_path / "saved")
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        torch.testing.assert_close(back(ids, use_cache=False).logits,
                                   hf_models[kind](ids, use_cache=False).logits, atol=0, rtol=0)


def test_other_architecture_is_refused():
    """The embedded tiny Llama is a real transformers folder of an unsupported kind."""
    with pytest.raises(UserError, match="MambaForCausalLM, MixtralForCausalLM"):
        load_model(model_path("tiny-llama"))


def test_unimplemented_options_are_refused(hf_mixtral_dir, tmp_path):
    for key, value in (("sliding_window", 16), ("hidden_act", "gelu")):
        folder = tmp_path / key
        folder.mkdir()
        config = json.loads((hf_mixtral_dir / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, key: value}))
        (folder / "model.safetensors").symlink_to(hf_mixtral_dir / "model.safetensors")
        with pytest.raises(UserError, match=key):
            load_model(folder)
