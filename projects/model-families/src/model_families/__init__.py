"""model-families: BERT, GPT-2, T5 and Llama side by side (chapter 2.2, 模型家族谱系).

Public API: `load` (a Hugging Face folder -> our model), `load_hf` (the same folder in
transformers), `compare_folder`, `generate`, `Sampling`, `build_table`, `save_tiny`.
Names are imported on first use so `--help` does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"load": "families", "load_hf": "families", "Loaded": "families",
          "compare_folder": "compare", "generate": "generate", "Sampling": "generate",
          "build_table": "table", "save_tiny": "tiny", "run_demo": "demo"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'model_families' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
