"""LoRALinear against peft (same forward for the same weights), merge, targets, NF4Linear."""

import peft
import pytest
import torch
from llm_shared import UserError
from qlora_tuner.lora import (
    LoRALinear,
    inject_lora,
    lora_layers,
    merge_and_unload,
    merge_lora,
    quantize_model,
    select_targets,
    trainable_parameters,
    unmerge_lora,
)
from qlora_tuner.quant_linear import NF4Linear
from torch import nn

IDS = torch.tensor([[1, 520, 4930, 314, 253, 1326, 30, 2], [1, 9690, 28, 7000, 45, 2, 2, 2]])


def logits(model):
    with torch.no_grad():
        return model(input_ids=IDS).logits


def copy_into_peft(ours, peft_model):
    """Put our LoRA matrices into peft's modules (same module paths)."""
    state = peft_model.state_dict()
    for name, layer in lora_layers(ours).items():
        for part in ("lora_A", "lora_B"):
            key = f"base_model.model.{name}.{part}.default.weight"
            state[key].copy_(getattr(layer, part).weight.data)


@pytest.mark.parametrize("rslora", [False, True])
def test_same_forward_as_peft(make_tiny, randomize, rslora):
    ours = make_tiny()
    inject_lora(ours, ["q_proj", "v_proj", "down_proj"], r=4, alpha=8, use_rslora=rslora)
    randomize(ours)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                             lora_dropout=0.0, use_rslora=rslora)
    theirs = peft.get_peft_model(make_tiny(), config)
    copy_into_peft(ours, theirs)
    assert torch.allclose(logits(ours), logits(theirs), atol=1e-5)
    layer = next(iter(lora_layers(ours).values()))
    assert layer.scaling == (8 / 2 if rslora else 8 / 4)
    assert trainable_parameters(ours)[0] == sum(
        p.numel() for p in theirs.parameters() if p.requires_grad)


def test_fresh_adapter_changes_nothing_and_only_lora_trains(tiny):
    model, _ = tiny
    before = logits(model)
    names = inject_lora(model, "all-linear", r=2, alpha=4)
    assert "lm_head" not in names and len(names) == 2 * 7
    assert torch.equal(logits(model), before)
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())


def test_merge_unmerge(tiny, randomize):
    model, _ = tiny
    base = logits(model)
    inject_lora(model, ["q_proj", "o_proj", "up_proj"], r=4, alpha=16)
    randomize(model)
    adapted = logits(model)
    assert not torch.allclose(adapted, base, atol=1e-3)
    merge_lora(model)
    assert torch.allclose(logits(model), adapted, atol=1e-5)
    unmerge_lora(model)
    assert torch.allclose(logits(model), adapted, atol=1e-5)
    plain = merge_and_unload(model)
    assert not lora_layers(plain) and torch.allclose(logits(plain), adapted, atol=1e-5)


def test_unknown_target_lists_linear_layers(tiny):
    model, _ = tiny
    with pytest.raises(UserError) as err:
        inject_lora(model, ["q_proj", "c_attn"], r=4, alpha=8)
    message = str(err.value)
    assert "c_attn" in message
    for kind in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert kind in message


def test_rank_must_be_positive(tiny):
    with pytest.raises(UserError, match="rank"):
        inject_lora(tiny[0], ["q_proj"], r=0, alpha=8)


def test_target_selection_rules(tiny):
    model, _ = tiny
    assert select_targets(model, ["q_proj"]) == ["model.layers.0.self_attn.q_proj",
                                                 "model.layers.1.self_attn.q_proj"]
    assert select_targets(model, r".*\.1\.mlp\.(up|down)_proj") == [
        "model.layers.1.mlp.up_proj", "model.layers.1.mlp.down_proj"]
    assert select_targets(model, ["v_proj"], layers=[1]) == ["model.layers.1.self_attn.v_proj"]
    with pytest.raises(UserError, match="matches no linear layer"):
        select_targets(model, r"attn\.q")


def test_nf4_linear_forward_and_backward():
    torch.manual_seed(0)
    linear = nn.Linear(128, 64)
    layer = NF4Linear.from_linear(linear, blocksize=64)
    weight = layer.dequantized_weight()
    x = torch.randn(3, 5, 128, requires_grad=True)
    y = layer(x)
    assert torch.allclose(y, nn.functional.linear(x, weight, linear.bias), atol=1e-6)
    y.square().sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    nn.functional.linear(x2, weight, linear.bias).square().sum().backward()
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)
    assert not any(p.requires_grad for p in layer.parameters())


def test_qlora_model_is_the_dequantised_model_with_lora(make_tiny, randomize):
    quantized = make_tiny()
    quantize_model(quantized, blocksize=64, double_quant=True)
    assert sum(isinstance(m, NF4Linear) for m in quantized.modules()) == 14
    inject_lora(quantized, ["q_proj", "gate_proj"], r=4, alpha=8)
    randomize(quantized)
    assert isinstance(lora_layers(quantized)["model.layers.0.self_attn.q_proj"].base_layer,
                      NF4Linear)
    expected = logits(quantized)
    merged = merge_and_unload(quantized)
    assert not any(isinstance(m, (NF4Linear, LoRALinear)) for m in merged.modules())
    assert torch.allclose(logits(merged), expected, atol=1e-4)
