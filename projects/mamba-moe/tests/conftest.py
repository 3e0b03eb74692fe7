"""Tiny random transformers folders (the reference side) shared by the tests."""

import pytest
import torch


@pytest.fixture(scope="session")
def hf_mamba_dir(tmp_path_factory):
    """MambaForCausalLM: vocab 64 (ids fit), width 32, 2 layers, N 8: milliseconds per forward."""
    from transformers import MambaConfig, MambaForCausalLM

    torch.manual_seed(0)
    model = MambaForCausalLM(MambaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                         state_size=8))
    with torch.no_grad():  # larger A and Δ than the init so the state really decays and mixes
        for layer in model.backbone.layers:
            layer.mixer.A_log.add_(torch.randn_like(layer.mixer.A_log) * 0.5)
            layer.mixer.dt_proj.bias.add_(2.0)
    folder = tmp_path_factory.mktemp("hf") / "mamba"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def hf_mixtral_dir(tmp_path_factory):
    """MixtralForCausalLM: 4 experts top-2, GQA 4 heads / 2 KV heads, 2 layers."""
    from transformers import MixtralConfig, MixtralForCausalLM

    torch.manual_seed(1)
    model = MixtralForCausalLM(MixtralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
        num_experts_per_tok=2, initializer_range=0.2))  # larger weights -> non-trivial routing
    folder = tmp_path_factory.mktemp("hf") / "mixtral"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def ids():
    return torch.randint(0, 64, (2, 40), generator=torch.Generator().manual_seed(0))
