"""Reading a Hugging Face model folder without transformers: config.json, weights, renaming.

A folder is `config.json` plus `model.safetensors` (or the sharded `model.safetensors.index.json`,
or a legacy `pytorch_model.bin`, read with `weights_only=True`: nothing in a file runs code). Each
family module declares how HF names map to ours as an ordered list of regex rewrites, so the
mapping is data a reader can scan, and `load_weights` checks that every parameter of our model is
filled with a tensor of the right shape. Leaves out: quantised checkpoints, remote code, GGUF.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError
from torch import nn

Renames = Sequence[tuple[str, str | None]]  # (regex, replacement); None = ignore the tensor


def read_config(folder: Path | str) -> dict[str, Any]:
    """config.json of a model folder, or a one-line error naming what is missing."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a directory; pass a model folder saved with "
                        "save_pretrained (config.json + weights)")
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json; pass a folder saved with save_pretrained")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); fix or re-save the model") from exc
    if not isinstance(config, dict):
        raise UserError(f"{path} is not a JSON object; re-save the model with save_pretrained")
    return config


def read_weights(folder: Path | str) -> dict[str, torch.Tensor]:
    """All tensors of a folder by their HF names (safetensors preferred, sharded or not)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        return load_file(single)
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        tensors: dict[str, torch.Tensor] = {}
        for shard in shards:
            if "/" in shard or "\\" in shard:  # an index must not point outside its folder
                raise UserError(f"{index} names a shard outside the folder ({shard!r})")
            tensors.update(load_file(folder / shard))
        return tensors
    legacy = folder / "pytorch_model.bin"
    if legacy.is_file():
        return torch.load(legacy, map_location="cpu", weights_only=True)
    raise UserError(f"{folder} has no weights (model.safetensors, its index, or "
                    "pytorch_model.bin); save the model with save_pretrained")


def rename(key: str, renames: Renames) -> str | None:
    """Apply every matching rewrite in order; None if a rule says to ignore the tensor.

    >>> rename("model.layers.0.self_attn.q_proj.weight",
    ...        [(r"^model\\.", ""), (r"self_attn", "attn"), (r"(\\w)_proj", r"\\1")])
    'layers.0.attn.q.weight'
    """
    for pattern, replacement in renames:
        if re.search(pattern, key):
            if replacement is None:
                return None
            key = re.sub(pattern, replacement, key)
    return key


def load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], renames: Renames, *,
                 transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
                 optional: Sequence[str] = ()) -> set[str]:
    """Put HF tensors into `model` (float32); return the names in `optional` that were absent.

    Every other parameter must be present with the shape the config implies; a tensor we have no
    slot for is an error too (it would mean a feature we do not implement, e.g. a bias).
    """
    ours = dict(model.named_parameters(remove_duplicate=False))
    state: dict[str, torch.Tensor] = {}
    for hf_name, tensor in tensors.items():
        name = rename(hf_name, renames)
        if name is None:
            continue
        if name not in ours:
            raise UserError(f"weight '{hf_name}' has no place in our {type(model).__name__} "
                            "(a feature model-families does not implement?); refusing to "
                            "ignore it")
        if transform is not None:
            tensor = transform(name, tensor)
        if tuple(tensor.shape) != tuple(ours[name].shape):
            raise UserError(f"weight '{hf_name}' has shape {tuple(tensor.shape)} but config.json "
                            f"implies {tuple(ours[name].shape)}; the folder's weights and "
                            "config do not match")
        state[name] = tensor.to(torch.float32).contiguous()
    missing = [n for n in ours if n not in state and n not in optional]
    if missing:
        raise UserError(f"the checkpoint lacks {len(missing)} weight(s) the config needs, e.g. "
                        f"'{missing[0]}'; the folder's weights and config do not match")
    # assign=True adopts the loaded tensors instead of copying into freshly initialised ones, so
    # a model built on the meta device costs no time or memory before this point.
    model.load_state_dict(state, strict=False, assign=True)
    return {n for n in optional if n not in state}


def refuse(option: str, value: Any, supported: str) -> UserError:
    """The one-line error for a config option our implementation does not cover."""
    return UserError(f"config option {option}={value!r} is not implemented by model-families "
                     f"(supported: {supported}); refusing rather than giving different logits")


def need(config: dict[str, Any], key: str) -> Any:
    """A required config key, or a one-line error naming it."""
    if config.get(key) is None:
        raise UserError(f"config.json lacks '{key}'; the folder is not a complete "
                        f"{config.get('model_type', 'model')} checkpoint")
    return config[key]
