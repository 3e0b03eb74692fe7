"""Device, dtype and seeding choices shared by every chapter.

`pick_device("auto")` prefers CUDA, then Apple's MPS, then the CPU. `pick_dtype` keeps float32 on
the CPU (bf16 changes results, and is fast only on CPUs with AVX512-BF16 or AMX) and uses bf16 on
GPUs that support it; a project that wants bf16 on such a CPU asks for it by name.
Leaves out multi-GPU placement: projects that shard (zero-trainer) do their own.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .errors import UserError

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def pick_device(preference: str | torch.device | None = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu; any explicit name is checked."""
    if isinstance(preference, torch.device):
        return preference
    name = (preference or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device '{name}' asked for but CUDA is not available; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' asked for but MPS is not available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from exc


def pick_dtype(device: torch.device, preference: str | torch.dtype | None = "auto") -> torch.dtype:
    """'auto' -> bf16 on a GPU that supports it, float32 elsewhere; 'bf16'-style names work."""
    if isinstance(preference, torch.dtype):
        return preference
    name = (preference or "auto").lower()
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if name not in _DTYPES:
        raise UserError(f"unknown dtype '{name}'; use auto, float32, bfloat16 or float16")
    return _DTYPES[name]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices): a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
