"""LoRA written out: `LoRALinear` wraps a frozen linear layer and adds a trainable low-rank update.

    y = base(x) + (B A dropout(x)) * s,  A: (r, in), B: (out, r),  s = alpha/r (rsLoRA: alpha/√r)

A starts Kaiming-uniform and B at zero, so a fresh adapter changes nothing (peft's default init).
The base may be an `nn.Linear` (LoRA) or an `NF4Linear` (QLoRA). Module names (`base_layer`,
`lora_A`, `lora_B`) follow peft, so the state dict keys map 1:1 onto a peft adapter file.
`inject_lora` picks target layers the way peft does (a list of names matches a module whose name
ends with `.name`; a string is a regex on the full name; "all-linear" is every linear layer but
the output head); `merge_lora` folds B A s into the base weight and `unmerge_lora` takes it out.
Leaves out DoRA, LoftQ/PiSSA init, bias training and several adapters on one model.
Exercised by tests/test_lora.py (same outputs as peft for the same weights).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import torch
from llm_shared import UserError
from torch import nn

from .quant_linear import NF4Linear

LAYER_INDEX = re.compile(r".*\.(?:layers|h|blocks)\.(\d+)\.")


class LoRALinear(nn.Module):
    """A frozen `base_layer` plus the low-rank update `lora_B(lora_A(dropout(x))) * scaling`."""

    def __init__(self, base_layer: nn.Module, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False) -> None:
        super().__init__()
        if r <= 0:
            raise UserError(f"LoRA rank must be > 0 (got {r}); pass --rank 8 or similar")
        self.base_layer = base_layer
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        self.r, self.alpha, self.use_rslora = r, alpha, use_rslora
        self.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        dtype = _weight_dtype(base_layer)
        device = _weight_device(base_layer)
        self.lora_A = nn.Linear(self.in_features, r, bias=False, dtype=dtype, device=device)
        self.lora_B = nn.Linear(r, self.out_features, bias=False, dtype=dtype, device=device)
        # peft's init: A ~ Kaiming-uniform(a=sqrt 5), B = 0, so the wrapped layer starts unchanged.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """The update the adapter adds to the base weight: (B @ A) * scaling, shape (out, in)."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling  # (out, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)  # (..., out)
        if self.merged:
            return y
        h = self.lora_A(self.lora_dropout(x.to(self.lora_A.weight.dtype)))  # (..., r)
        return y + (self.lora_B(h) * self.scaling).to(y.dtype)  # (..., out)

    def merge(self) -> None:
        """W <- W + B A s in place (plain linear bases only: a 4-bit base cannot absorb it)."""
        if self.merged:
            return
        if not isinstance(self.base_layer, nn.Linear):
            raise UserError("cannot merge into a 4-bit base in place; use `qlora-tuner merge`, "
                            "which dequantises the base first")
        self.base_layer.weight.data += self.delta_weight().to(self.base_layer.weight.dtype)
        self.merged = True

    def unmerge(self) -> None:
        """W <- W - B A s: undo `merge` (exact up to float rounding)."""
        if not self.merged:
            return
        self.base_layer.weight.data -= self.delta_weight().to(self.base_layer.weight.dtype)
        self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:.4g}"


def _weight_dtype(layer: nn.Module) -> torch.dtype:
    return layer.compute_dtype if isinstance(layer, NF4Linear) else layer.weight.dtype


def _weight_device(layer: nn.Module) -> torch.device:
    return layer.packed.device if isinstance(layer, NF4Linear) else layer.weight.device


def linear_layer_names(model: nn.Module) -> list[str]:
    """Full names of the model's linear layers (plain, 4-bit or already wrapped)."""
    return [name for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, NF4Linear)) and ".lora_" not in name
            and not name.endswith(".base_layer")]


def _output_head_names(model: nn.Module) -> set[str]:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return {name for name, module in model.named_modules() if head is not None and module is head}


def _linear_kinds(names: Iterable[str]) -> list[str]:
    return sorted({name.rsplit(".", 1)[-1] for name in names})


def select_targets(model: nn.Module, target_modules: list[str] | str,
                   layers: list[int] | None = None) -> list[str]:
    """Names of the linear layers an adapter goes on, with peft's matching rules.

    ["q_proj", "v_proj"] -> every `...q_proj` and `...v_proj`; "all-linear" -> all but the output
    head; any other string -> `re.fullmatch` on the full module name. `layers` keeps only modules
    inside those block indices (peft's `layers_to_transform`). A name that matches nothing is an
    error that lists the model's linear layers.
    """
    linear = linear_layer_names(model)
    if target_modules == "all-linear" or target_modules == ["all-linear"]:
        heads = _output_head_names(model)
        chosen = [n for n in linear if n not in heads]
    elif isinstance(target_modules, str):
        chosen = [n for n in linear if re.fullmatch(target_modules, n)]
        if not chosen:
            raise UserError(f"target pattern {target_modules!r} matches no linear layer; this "
                            f"model's linear layers are {', '.join(_linear_kinds(linear))}")
    else:
        unknown = [t for t in target_modules
                   if not any(n == t or n.endswith("." + t) for n in linear)]
        if unknown:
            raise UserError(f"unknown target modules {', '.join(unknown)}; this model's linear "
                            f"layers are {', '.join(_linear_kinds(linear))} (or use all-linear)")
        chosen = [n for n in linear if any(n == t or n.endswith("." + t) for t in target_modules)]
    if layers is not None:
        wanted = set(layers)
        chosen = [n for n in chosen
                  if (m := LAYER_INDEX.match(n)) is not None and int(m.group(1)) in wanted]
        if not chosen:
            raise UserError(f"no target layer lies in blocks {sorted(wanted)}; check --layers "
                            "against the model's number of layers")
    return chosen


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def inject_lora(model: nn.Module, target_modules: list[str] | str, r: int, alpha: float,
                dropout: float = 0.0, use_rslora: bool = False,
                layers: list[int] | None = None) -> list[str]:
    """Freeze every parameter of `model`, wrap the target layers in `LoRALinear` (only the LoRA
    matrices train) and return the wrapped names."""
    if r <= 0:
        raise UserError(f"--rank must be > 0 (got {r}); pass a positive integer such as 8")
    names = select_targets(model, target_modules, layers)
    for param in model.parameters():
        param.requires_grad_(False)
    for name in names:
        _set_module(model, name, LoRALinear(model.get_submodule(name), r, alpha, dropout,
                                            use_rslora))
    return names


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.unmerge()


def quantize_model(model: nn.Module, blocksize: int = 64, double_quant: bool = False,
                   compute_dtype: torch.dtype = torch.float32) -> list[str]:
    """Replace every linear layer but the output head by a frozen `NF4Linear` (QLoRA's recipe: the
    head and the embeddings stay in 16/32 bits). Returns the quantised names."""
    heads = _output_head_names(model)
    names = [n for n, m in model.named_modules() if type(m) is nn.Linear and n not in heads]
    for name in names:
        linear = model.get_submodule(name)
        _set_module(model, name, NF4Linear.from_linear(linear, blocksize, double_quant,
                                                       compute_dtype))
    return names


def dequantize_model(model: nn.Module) -> None:
    """Replace every `NF4Linear` (also inside LoRA wrappers) by an `nn.Linear` holding its
    dequantised weight: the float model that the 4-bit one computes."""
    for name, module in list(model.named_modules()):
        if isinstance(module, NF4Linear):
            linear = nn.Linear(module.in_features, module.out_features,
                               bias=module.bias is not None, dtype=module.compute_dtype,
                               device=module.packed.device)
            linear.weight.data.copy_(module.dequantized_weight())
            if module.bias is not None:
                linear.bias.data.copy_(module.bias.data)
            linear.requires_grad_(False)
            _set_module(model, name, linear)


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Dequantise any 4-bit base, fold every adapter into its base weight and put plain
    `nn.Linear`s back: the result is an ordinary transformers model that save_pretrained writes."""
    dequantize_model(model)
    for name, layer in list(lora_layers(model).items()):
        layer.merge()
        _set_module(model, name, layer.base_layer)
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; a 4-bit weight counts its elements, not its bytes."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    total += sum(m.in_features * m.out_features for m in model.modules()
                 if isinstance(m, NF4Linear))
    return trainable, total
