"""llm_shared: the small common package of the llm-fullstack workspace.

What every chapter needs and nothing chapter-specific: the embedded models (`load_causal_lm`,
`load_sentence_encoder`), the built-in corpus (`iter_corpus`), device and seeding, the `UserError`
-> one-line CLI error, progress bars, config dataclass -> argparse, atomic writes and the
benchmark helper that times two callables alternately, `torch_threads` (pin torch's thread
count), `load_torch_state` (tensors only, never code) and `PackedLinear` (a prepacked CPU matmul
for decoding-sized batches).

Names are imported on first use (PEP 562), and `model_path`/`cache_dir` live in the torch-free
`paths`, so a command that never touches a model (a tokenizer's `encode`, a dedup run) does not
pay for importing torch (tested in bpe-tokenizer's test_cli.py).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "bench": ("Comparison", "compare", "markdown_table", "peak_rss_mb"),
    "config": ("add_config_args", "build_config", "load_config_file", "param"),
    "corpus": ("KINDS", "Document", "corpus_text", "iter_corpus", "stdlib_files"),
    "device": ("pick_device", "pick_dtype", "seed_everything"),
    "errors": ("EXIT_USER_ERROR", "UserError", "cli_entry"),
    "io": ("atomic_dir", "atomic_write", "emit_json", "load_torch_state", "write_json"),
    "linear": ("PackedLinear",),
    "llama": ("SUPPORTED_MODEL_TYPES", "check_llama_config", "fused_layer_weights", "rms_norm",
              "rope_inv_freq", "rope_tables"),
    "names": ("EMBEDDED_ENCODER", "EMBEDDED_LLM", "ENCODER_NAMES", "LLM_NAMES", "TINY_ENCODER",
              "TINY_LLM"),
    "models": ("SentenceEncoder", "load_causal_lm", "load_sentence_encoder", "load_tokenizer"),
    "paths": ("cache_dir", "model_path", "smollm2_gguf_path"),
    "progress": ("progress_bar", "track"),
    "threads": ("torch_threads",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_shared' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
