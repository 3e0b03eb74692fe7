"""peft loads our adapters and reproduces our logits; QLoRA adapters round-trip; merge drift."""

import json

import peft
import pytest
import torch
from llm_shared import UserError, load_causal_lm
from qlora_tuner.adapter_io import attach_adapter, save_adapter
from qlora_tuner.config import MergeConfig
from qlora_tuner.lora import inject_lora, quantize_model
from qlora_tuner.merge import merge


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_peft_loads_our_adapter_on_the_real_model(smollm, tmp_path, randomize):
    """The chapter's real-model test: SmolLM2-135M-Instruct, our LoRA vs peft's loading of it."""
    model, tok = smollm
    ids = tok("Write this person as 'Last, First (age)'.", return_tensors="pt")["input_ids"]
    base_logits = _logits(model, ids)
    targets = ["q_proj", "v_proj", "down_proj"]
    inject_lora(model, targets, r=4, alpha=8, layers=[0, 15, 29])
    randomize(model)
    ours = _logits(model, ids)
    save_adapter(model, tmp_path / "adapter", base_model="smollm2-135m-instruct",
                 target_modules=targets, layers=[0, 15, 29], method="lora", blocksize=64,
                 double_quant=False)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4
    fresh, _ = load_causal_lm("smollm2-135m-instruct", device="cpu")
    theirs = peft.PeftModel.from_pretrained(fresh, tmp_path / "adapter")
    assert torch.allclose(_logits(theirs, ids), ours, atol=1e-4)
    assert not torch.allclose(ours, base_logits, atol=1e-2)  # the adapter does change the output


def test_qlora_adapter_round_trip(make_tiny, tmp_path, randomize):
    ids = torch.tensor([[1, 400, 500, 600, 700]])
    model = make_tiny()
    quantize_model(model, blocksize=64, double_quant=True)
    inject_lora(model, "all-linear", r=4, alpha=8, use_rslora=True)
    randomize(model)
    expected = _logits(model, ids)
    save_adapter(model, tmp_path / "ad", base_model="tiny-llama", target_modules="all-linear",
                 layers=None, method="qlora", blocksize=64, double_quant=True)
    again = make_tiny()
    assert attach_adapter(again, tmp_path / "ad")["method"] == "qlora"
    assert torch.equal(_logits(again, ids), expected)
    # peft on the base whose weights are our dequantised NF4 weights gives the same logits
    deq = make_tiny()
    quantize_model(deq, blocksize=64, double_quant=True)
    from qlora_tuner.lora import dequantize_model

    dequantize_model(deq)
    theirs = peft.PeftModel.from_pretrained(deq, tmp_path / "ad")
    assert torch.allclose(_logits(theirs, ids), expected, atol=1e-5)


def test_mismatched_base_is_an_error(make_tiny, smollm, tmp_path):
    model = make_tiny()
    inject_lora(model, ["q_proj"], r=2, alpha=4)
    save_adapter(model, tmp_path / "ad", base_model="tiny-llama", target_modules=["q_proj"],
                 layers=None, method="lora", blocksize=64, double_quant=False)
    import copy

    other = copy.deepcopy(smollm[0])
    with pytest.raises(UserError, match="trained on a base with"):
        attach_adapter(other, tmp_path / "ad")


def test_merge_reports_small_drift(make_tiny, tmp_path, randomize):
    model = make_tiny()
    quantize_model(model, blocksize=64, double_quant=False)
    inject_lora(model, ["q_proj", "up_proj"], r=4, alpha=8)
    randomize(model)
    save_adapter(model, tmp_path / "ad", base_model="tiny-llama",
                 target_modules=["q_proj", "up_proj"],
                 layers=None, method="qlora", blocksize=64, double_quant=False)
    report = merge(MergeConfig(adapter=tmp_path / "ad", output=tmp_path / "merged", device="cpu"))
    assert report["drift_vs_adapter"] < 1e-4
    assert report["drift_vs_float_base"] > report["drift_vs_adapter"]  # the 4-bit error shows
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    merged, _ = load_causal_lm(str(tmp_path / "merged"), device="cpu")
    ids = torch.tensor([[1, 400, 500]])
    assert torch.allclose(_logits(merged, ids), _logits(model, ids), atol=1e-4)
