"""Hugging Face tokenizer.json: save ours, load any byte-level BPE (SmolLM2's by default).

A byte-level vocabulary is stored as strings through GPT-2's byte -> character table
(b" the" is "Ġthe"), merges as pairs of such strings in rank order, special tokens as
`added_tokens`. What we write, `tokenizers.Tokenizer.from_file` and
`transformers.PreTrainedTokenizerFast(tokenizer_file=...)` load and encode to the same ids
(tests/test_hf_format.py); what we read must be a BPE model with a ByteLevel pre-tokenizer and no
normalizer, dropout, byte fallback or subword affixes; anything else is refused with one line
naming what is unsupported, rather than silently giving other ids.

    >>> tok = load_tokenizer("smollm2")
    >>> tok.encode("Hello world")
    [19556, 905]

Leaves out post-processors (templates that add BOS/EOS): ids are those of the text alone, as
Hugging Face gives with add_special_tokens=False. Exercised by `bpe-tokenizer train/encode`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_shared import EMBEDDED_LLM, UserError, atomic_write, model_path

from .pretokenize import pretokenizer_from_json, str_to_token, token_to_str
from .tokenizer import Tokenizer

SMOLLM2 = "smollm2"


def to_hf_json(tokenizer: Tokenizer) -> dict[str, Any]:
    vocab = {token_to_str(token): i for i, token in sorted(tokenizer.vocab.items())}
    merges = [[token_to_str(tokenizer.vocab[a]), token_to_str(tokenizer.vocab[b])]
              for a, b, _ in tokenizer.merges]
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for s, i in sorted(tokenizer.special_tokens.items(), key=lambda item: item[1])]
    steps = tokenizer.pretokenizer.steps
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": steps[0] if len(steps) == 1 else {"type": "Sequence",
                                                           "pretokenizers": steps},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": tokenizer.ignore_merges, "vocab": vocab, "merges": merges},
    }


def save_tokenizer(tokenizer: Tokenizer, path: str | Path) -> Path:
    """Write tokenizer.json atomically; `path` is the file or a directory to hold it."""
    target = Path(path)
    if target.suffix != ".json":
        target = target / "tokenizer.json"
    with atomic_write(target) as handle:
        json.dump(to_hf_json(tokenizer), handle, ensure_ascii=False, indent=1)
    return target


def resolve_tokenizer_file(spec: str | Path) -> Path:
    """'smollm2' | a directory holding tokenizer.json | a tokenizer.json file -> the file."""
    if str(spec) == SMOLLM2:
        return Path(model_path(EMBEDDED_LLM)) / "tokenizer.json"
    path = Path(spec)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"no tokenizer at {spec}: pass '{SMOLLM2}', a directory with a "
                        "tokenizer.json (e.g. the --output of `bpe-tokenizer train`) or the file")
    return path


def _check_supported(model: dict[str, Any], data: dict[str, Any], path: Path) -> None:
    kind = model.get("type")
    if kind != "BPE":
        raise UserError(f"{path} holds a {kind} model, not byte-level BPE; pass a BPE "
                        "tokenizer.json (e.g. smollm2 or one from `bpe-tokenizer train`)")
    if data.get("normalizer") is not None:
        raise UserError(f"{path} has a {data['normalizer'].get('type')} normalizer, which this "
                        "project does not apply; pass a byte-level BPE without a normalizer")
    unsupported = {key: model.get(key) for key in ("dropout", "byte_fallback",
                                                   "continuing_subword_prefix",
                                                   "end_of_word_suffix")
                   if model.get(key) not in (None, False, "")}
    if unsupported:
        raise UserError(f"{path} uses BPE options this project leaves out ({unsupported}); pass "
                        "a plain byte-level BPE tokenizer")


def from_hf_json(data: dict[str, Any], path: Path = Path("tokenizer.json")) -> Tokenizer:
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict):
        raise UserError(f"{path} is JSON but not a tokenizer.json (no 'model'); pass a Hugging "
                        "Face tokenizer.json")
    _check_supported(model, data, path)
    pretokenizer = pretokenizer_from_json(data.get("pre_tokenizer"))
    specials = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    special_ids = set(specials.values())
    vocab: dict[int, bytes] = {}
    for text, i in model["vocab"].items():
        if i in special_ids:
            continue
        try:
            vocab[i] = str_to_token(text)
        except KeyError:
            raise UserError(f"{path}: token {text!r} is not in byte-level form, so this is not "
                            "a byte-level BPE; pass a GPT-2 style tokenizer") from None
    ids_of = {token: i for i, token in vocab.items()}
    merges = []
    for entry in model["merges"]:
        left, right = entry.split(" ", 1) if isinstance(entry, str) else entry
        try:
            a, b = ids_of[str_to_token(left)], ids_of[str_to_token(right)]
            merges.append((a, b, ids_of[vocab[a] + vocab[b]]))
        except KeyError:
            raise UserError(f"{path}: merge {left!r} + {right!r} uses a token missing from the "
                            "vocab; the file is inconsistent, re-export it") from None
    return Tokenizer(vocab, merges, pretokenizer, specials,
                     ignore_merges=bool(model.get("ignore_merges")))


def load_tokenizer(spec: str | Path = SMOLLM2) -> Tokenizer:
    """Load 'smollm2', a directory with tokenizer.json, or a tokenizer.json file."""
    path = resolve_tokenizer_file(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not a JSON tokenizer file ({type(exc).__name__}); pass a "
                        "Hugging Face tokenizer.json") from exc
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}); check the path") from exc
    return from_hf_json(data, path)
