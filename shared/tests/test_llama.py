"""llm_shared.llama against transformers' Llama modules on a tiny random config."""

import pytest
import torch
from llm_shared import (
    UserError,
    check_llama_config,
    fused_layer_weights,
    rms_norm,
    rope_inv_freq,
    rope_tables,
)
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, Qwen2Config
from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding

TINY = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_equals_hf(dtype):
    torch.manual_seed(0)
    norm = LlamaRMSNorm(32, eps=1e-5).to(dtype)
    norm.weight.data = torch.randn(32).to(dtype)
    x = torch.randn(3, 5, 32).to(dtype)
    assert torch.equal(rms_norm(x, norm.weight, 1e-5), norm(x))


def test_rope_tables_equal_hf():
    config = LlamaConfig(**TINY, rope_theta=5000.0)
    rotary = LlamaRotaryEmbedding(config)
    D = config.hidden_size // config.num_attention_heads
    inv_freq = rope_inv_freq(D, 5000.0)
    assert torch.equal(inv_freq, rotary.inv_freq)
    positions = torch.arange(17)[None]
    cos_hf, sin_hf = rotary(torch.zeros(1, 17, D), positions)  # (1, 17, D)
    cos, sin = rope_tables(inv_freq, 17)
    assert cos.shape == (17, D)
    assert torch.equal(cos, cos_hf[0]) and torch.equal(sin, sin_hf[0])


def test_fused_layer_weights_match_the_modules():
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**TINY))
    weights = model.state_dict()
    layer = fused_layer_weights(weights.__getitem__, 1)
    attn, mlp = model.model.layers[1].self_attn, model.model.layers[1].mlp
    h = torch.randn(3, 32)
    q, k, v = attn.q_proj(h), attn.k_proj(h), attn.v_proj(h)
    assert torch.allclose(h @ layer["qkv"].T, torch.cat([q, k, v], -1), atol=1e-6)
    gate, up = (h @ layer["gate_up"].T).chunk(2, -1)
    assert torch.allclose(gate, mlp.gate_proj(h), atol=1e-6)
    assert torch.allclose(up, mlp.up_proj(h), atol=1e-6)
    assert torch.equal(layer["down"], mlp.down_proj.weight)
    assert torch.equal(layer["input_norm"], model.model.layers[1].input_layernorm.weight)


def test_plain_llama_passes_as_dict_and_object():
    check_llama_config(LlamaConfig(**TINY))
    check_llama_config({"model_type": "llama", "attention_bias": False, "mlp_bias": False})


@pytest.mark.parametrize("config, words", [
    (Qwen2Config(**TINY), "'qwen2' model; supported architectures: llama"),
    (MistralConfig(**TINY, sliding_window=16), "'mistral' model"),
    (LlamaConfig(**TINY, attention_bias=True), "attention_bias=true"),
    (LlamaConfig(**TINY, mlp_bias=True), "mlp_bias=true"),
    ({"model_type": "llama", "sliding_window": 4096}, "sliding_window=4096"),
])
def test_unsupported_variants_are_refused_in_one_line(config, words):
    with pytest.raises(UserError) as exc:
        check_llama_config(config, "ckpt")
    assert words in str(exc.value) and "\n" not in str(exc.value)
