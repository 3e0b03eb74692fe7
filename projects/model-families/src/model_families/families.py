"""Which family a folder holds, and loading it with our code or with transformers.

`load(folder)` reads config.json, picks the family from `model_type`, refuses what we do not
implement (one line naming the option) and fills our model from the weights. `load_hf` loads the
same folder with the matching transformers class, the reference every test compares against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, model_path
from torch import nn

from . import bert, gpt2, llama, t5
from .checkpoint import read_config, read_weights

# model_type -> (family, builder). mistral without a sliding window is a Llama.
FAMILIES = {
    "bert": ("bert", bert.build),
    "gpt2": ("gpt2", gpt2.build),
    "llama": ("llama", llama.build),
    "mistral": ("llama", llama.build),
    "t5": ("t5", t5.build),
}
# Llama-likes that differ in something we do not implement: named, so the error says what.
KNOWN_GAPS = {
    "qwen2": "q/k/v biases (qwen2 always has attention biases) and sliding windows",
    "qwen3": "per-head q/k RMSNorm",
    "gemma": "embedding scaling by sqrt(d_model) and (1 + weight) RMSNorm",
    "phi3": "fused qkv and gate_up projections and partial rotary embeddings",
    "mt5": "a separate untied vocabulary head with mT5's 250k vocabulary (use t5)",
    "roberta": "padding-offset position ids",
}


@dataclass
class Loaded:
    family: str
    model: nn.Module
    config: dict[str, Any]
    folder: Path


def resolve(name_or_dir: str | Path) -> Path:
    """An embedded model name (smollm2-135m-instruct, all-minilm-l6-v2, ...) or a local folder."""
    if Path(name_or_dir).expanduser().is_dir():  # a folder wins over an embedded name
        return Path(name_or_dir).expanduser()
    path = model_path(str(name_or_dir))
    if isinstance(path, str):  # neither embedded nor a local folder: we never download
        raise UserError(f"{name_or_dir} is not a local folder or an embedded model name; pass a "
                        "folder saved with save_pretrained")
    return Path(path)


def family_of(config: dict[str, Any]) -> str:
    model_type = config.get("model_type")
    if model_type in FAMILIES:
        return FAMILIES[model_type][0]
    if model_type in KNOWN_GAPS:
        raise UserError(f"model_type '{model_type}' needs {KNOWN_GAPS[model_type]}, which "
                        f"model-families does not implement; supported: {', '.join(FAMILIES)}")
    raise UserError(f"unknown model_type {model_type!r} in config.json; model-families "
                    f"implements {', '.join(FAMILIES)}")


def load(name_or_dir: str | Path) -> Loaded:
    folder = resolve(name_or_dir)
    config = read_config(folder)
    family = family_of(config)
    builder = FAMILIES[config["model_type"]][1]
    tensors = read_weights(folder)
    with torch.device("meta"):  # parameters are adopted from the checkpoint, not initialised
        model = builder(config, tensors)
    return Loaded(family, model, config, folder)


def load_hf(folder: Path, family: str) -> nn.Module:
    """The same folder in transformers, float32, eval mode, with its default attention."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    config = read_config(folder)
    architectures = config.get("architectures") or []
    if family == "bert":
        cls = (transformers.BertForMaskedLM if "BertForMaskedLM" in architectures
               else transformers.BertModel)
    elif family == "t5":
        cls = transformers.T5ForConditionalGeneration
    elif family == "gpt2" and architectures == ["GPT2Model"]:
        cls = transformers.GPT2Model
    else:
        cls = transformers.AutoModelForCausalLM
    try:
        return cls.from_pretrained(folder, dtype=torch.float32).eval()
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"transformers cannot load {folder} as {cls.__name__} ({first}); "
                        "compare needs a folder transformers can read") from exc
