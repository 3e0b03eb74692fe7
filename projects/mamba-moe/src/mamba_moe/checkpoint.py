"""Load and save transformers folders (config.json + safetensors) as our Mamba or Mixtral model.

`load_model(DIR)` reads `architectures` from config.json and builds `MambaLM` or `MixtralLM`;
anything else is a `UserError` naming the two supported ones. Weights come only from
safetensors (single file or a sharded index); a missing or unexpected key is refused rather than
left at its random init. `save_model` writes the same layout back, so transformers loads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from llm_shared import UserError, atomic_write, write_json
from safetensors.torch import load_file, save

from .mamba import MambaConfig, MambaLM
from .mixtral import MixtralConfig, MixtralLM

SUPPORTED = {"MambaForCausalLM": "mamba", "MixtralForCausalLM": "mixtral"}
Model = MambaLM | MixtralLM


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json; pass a transformers model folder "
                        f"({' or '.join(SUPPORTED)})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from exc


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise UserError(f"{folder} has no model.safetensors; save the model with "
                        "save_pretrained (safetensors) - pickled .bin weights are not read")
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        weights.update(load_file(str(folder / name)))
    return weights


def build_model(kind: str, config: dict) -> Model:
    try:
        if kind == "mamba":
            return MambaLM(MambaConfig.from_hf(config))
        return MixtralLM(MixtralConfig.from_hf(config))
    except (ValueError, TypeError) as exc:
        raise UserError(f"unsupported {kind} config: {exc}") from exc


def load_model(folder: str | Path) -> tuple[str, Model]:
    """DIR -> ("mamba" | "mixtral", model in float32 eval mode)."""
    folder = Path(folder)
    config = read_config(folder)
    arch = (config.get("architectures") or [None])[0]
    if arch not in SUPPORTED:
        raise UserError(f"{folder} holds {arch or config.get('model_type', 'an unknown model')}; "
                        f"supported architectures are {', '.join(SUPPORTED)}")
    kind = SUPPORTED[arch]
    model = build_model(kind, config)
    weights = {k.replace("backbone.embedding.", "backbone.embeddings."): v.float()
               for k, v in _read_weights(folder).items()}
    expected = set(model.state_dict())
    if model.config.tie_word_embeddings:
        weights.pop("lm_head.weight", None)
        expected.discard("lm_head.weight")
    missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or unexpected:
        raise UserError(f"{folder} weights do not match its config (missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]}); re-save the model with transformers")
    model.load_state_dict(weights, strict=False)
    return kind, model.eval()


def save_model(model: Model, folder: str | Path, extra_files: dict[str, dict] | None = None
               ) -> None:
    """Write model.safetensors (+ extra JSON files) then config.json, each via temp + rename,
    so a folder with a config.json always has its weights; other files in `folder` are kept."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")
    folder = Path(folder)
    with atomic_write(folder / "model.safetensors", "wb") as handle:
        handle.write(save(state, metadata={"format": "pt"}))
    for name, obj in (extra_files or {}).items():
        write_json(folder / name, obj)
    write_json(folder / "config.json", model.config.to_hf())
