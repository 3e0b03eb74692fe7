"""Adapters on disk in peft's format, and loading them back onto a base model.

`save_adapter` writes `adapter_config.json` (peft's LoraConfig fields) and
`adapter_model.safetensors` with peft's key names (`base_model.model.<module>.lora_A.weight`), so
`peft.PeftModel.from_pretrained(base, folder)` loads it (tested: same logits). A third file,
`qlora_tuner.json`, records what peft has no field for: the method and the NF4 settings, so
`eval`/`merge` rebuild the same 4-bit base, and the base's shape, so a mismatched base is a clear
error. Leaves out saving several adapters per folder. Exercised by tests/test_adapter_io.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, atomic_dir, load_causal_lm
from safetensors.torch import load_file, save_file
from torch import nn

from .lora import inject_lora, lora_layers, quantize_model

PEFT_PREFIX = "base_model.model."
EXTRA_FILE = "qlora_tuner.json"


def _model_signature(model: nn.Module) -> dict[str, Any]:
    config = model.config
    return {"model_type": getattr(config, "model_type", None),
            "hidden_size": getattr(config, "hidden_size", None),
            "num_hidden_layers": getattr(config, "num_hidden_layers", None),
            "vocab_size": getattr(config, "vocab_size", None)}


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA matrices under peft's key names (adapter name stripped, as peft saves them)."""
    out = {}
    for name, layer in lora_layers(model).items():
        out[f"{PEFT_PREFIX}{name}.lora_A.weight"] = layer.lora_A.weight.detach().contiguous()
        out[f"{PEFT_PREFIX}{name}.lora_B.weight"] = layer.lora_B.weight.detach().contiguous()
    return out


def save_adapter(model: nn.Module, folder: str | Path, *, base_model: str, target_modules: Any,
                 layers: list[int] | None, method: str, blocksize: int,
                 double_quant: bool) -> Path:
    """Write the adapter of `model` into `folder` atomically; returns the folder."""
    layers_ = lora_layers(model)
    if not layers_:
        raise UserError("the model has no LoRA layers to save")
    first = next(iter(layers_.values()))
    peft_config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model,
        "r": first.r, "lora_alpha": first.alpha, "lora_dropout": _dropout_p(first),
        "use_rslora": first.use_rslora, "target_modules": target_modules,
        "layers_to_transform": layers, "bias": "none", "fan_in_fan_out": False,
        "inference_mode": True, "init_lora_weights": True, "modules_to_save": None,
    }
    extra = {"method": method, "blocksize": blocksize, "double_quant": double_quant,
             "base": _model_signature(model)}
    with atomic_dir(folder) as tmp:
        save_file({k: v.cpu() for k, v in adapter_state_dict(model).items()},
                  str(tmp / "adapter_model.safetensors"), metadata={"format": "pt"})
        (tmp / "adapter_config.json").write_text(json.dumps(peft_config, indent=2) + "\n")
        (tmp / EXTRA_FILE).write_text(json.dumps(extra, indent=2) + "\n")
    return Path(folder)


def _dropout_p(layer: nn.Module) -> float:
    return float(getattr(layer.lora_dropout, "p", 0.0))


def read_adapter_config(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(peft adapter_config, our extras); a folder without them is a one-line error."""
    folder = Path(folder)
    config_file = folder / "adapter_config.json"
    if not config_file.is_file() or not (folder / "adapter_model.safetensors").is_file():
        raise UserError(f"{folder} is not an adapter folder (needs adapter_config.json and "
                        "adapter_model.safetensors); pass RUN/adapter written by `train`")
    extra_file = folder / EXTRA_FILE
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        extra = (json.loads(extra_file.read_text(encoding="utf-8")) if extra_file.is_file()
                 else {"method": "lora"})
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{folder} holds a damaged adapter config ({exc}); train it again or "
                        "restore the folder") from exc
    missing = [k for k in ("target_modules", "r", "lora_alpha") if k not in config]
    if not isinstance(config, dict) or not isinstance(extra, dict) or missing:
        raise UserError(f"{config_file} is not a LoRA adapter config (missing "
                        f"{', '.join(missing) or 'its fields'}); pass RUN/adapter written by "
                        "`train`")
    return config, extra


def attach_adapter(model: nn.Module, folder: str | Path, *,
                   quantize: bool = True) -> dict[str, Any]:
    """Rebuild the adapter of `folder` on `model` (quantising the base first when it was trained
    with QLoRA and `quantize`) and load its weights; returns the extras. Errors if the base does
    not match (missing modules or other shapes)."""
    config, extra = read_adapter_config(folder)
    expected = extra.get("base")
    if expected and expected != _model_signature(model):
        raise UserError(f"the adapter in {folder} was trained on a base with {expected}, but this "
                        f"model has {_model_signature(model)}; pass --model with the adapter's "
                        f"base ({config.get('base_model_name_or_path')})")
    if quantize and extra.get("method") == "qlora":
        quantize_model(model, extra.get("blocksize", 64), extra.get("double_quant", False),
                       compute_dtype=next(model.parameters()).dtype)
    inject_lora(model, config["target_modules"], int(config["r"]), float(config["lora_alpha"]),
                0.0, bool(config.get("use_rslora", False)), config.get("layers_to_transform"))
    weights = load_file(str(Path(folder) / "adapter_model.safetensors"))
    layers = lora_layers(model)
    for key, tensor in weights.items():
        name, _, part = key.removeprefix(PEFT_PREFIX).rpartition(".lora_")
        layer = layers.get(name)
        target = None if layer is None else getattr(layer, "lora_" + part.split(".")[0])
        if target is None or target.weight.shape != tensor.shape:
            raise UserError(f"adapter weight {key} does not fit this base model; pass --model "
                            f"with the adapter's base ({config.get('base_model_name_or_path')})")
        target.weight.data.copy_(tensor.to(target.weight.dtype))
    model.eval()
    return extra


def load_with_adapter(folder: str | Path, model: str | None = None, *, device: str = "auto",
                      quantize: bool = True) -> tuple[nn.Module, Any, dict[str, Any]]:
    """(model with the adapter attached, tokenizer, extras); the base defaults to the adapter's."""
    config, _ = read_adapter_config(folder)
    base = model or config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{folder}/adapter_config.json names no base model; pass --model")
    net, tokenizer = load_causal_lm(base, device=device)
    extra = attach_adapter(net, folder, quantize=quantize)
    return net, tokenizer, extra
