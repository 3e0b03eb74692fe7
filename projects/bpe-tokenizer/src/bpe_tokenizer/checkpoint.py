"""Resumable training for `bpe-tokenizer train`: checkpoints every N merges, `--resume` continues.

A checkpoint holds the settings that shape the merges (inputs, pattern, min_frequency, JSONL
field), the unique pre-tokens as they are segmented now, their counts, and the merges so far.
Resuming rebuilds pair counts and the heap from those words (one pass, no re-reading of the
corpus) and continues; since every choice depends only on the counts and the tie-breaking rule,
the result is the same as an uninterrupted run (tests/test_checkpoint.py). The target vocabulary
size may grow on resume. The checkpoint is removed once tokenizer.json is written.

Leaves out checkpoints of the counting pass (it streams the corpus once, in seconds per MB).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llm_shared import UserError, atomic_write

from .config import TrainConfig
from .inputs import count_pretokens
from .pretokenize import PreTokenizer
from .tokenizer import Tokenizer
from .trainer import IncrementalTrainer

CHECKPOINT_NAME = "train-checkpoint.json"


def checkpoint_path(output: Path) -> Path:
    """Beside the tokenizer: DIR/train-checkpoint.json, or FILE.json -> FILE.checkpoint.json."""
    if output.suffix == ".json":
        return output.with_suffix(".checkpoint.json")
    return output / CHECKPOINT_NAME


def _settings(config: TrainConfig, inputs: Sequence[str]) -> dict[str, Any]:
    return {"inputs": list(inputs), "pattern": config.pattern,
            "min_frequency": config.min_frequency, "jsonl_field": config.jsonl_field}


def _load(path: Path, settings: dict[str, Any]) -> IncrementalTrainer:
    if not path.is_file():
        raise UserError(f"--resume: no checkpoint at {path}; run without --resume to start")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"--resume: {path} is unreadable ({exc}); delete it and start again") \
            from exc
    if state.get("settings") != settings:
        raise UserError(f"--resume: {path} was made with other settings ({state.get('settings')})"
                        f"; pass the same inputs and flags, or run without --resume")
    return IncrementalTrainer.from_checkpoint(state)


def train_resumable(texts: Iterable[str], config: TrainConfig, inputs: Sequence[str],
                    output: Path, *, resume: bool = False, every: int = 1000,
                    show_progress: bool = True) -> Tokenizer:
    """Train as `Tokenizer.train` does, checkpointing every `every` merges (0: never)."""
    path = checkpoint_path(output)
    settings = _settings(config, inputs)
    pretokenizer = PreTokenizer.from_pattern(config.pattern)
    if resume:
        trainer = _load(path, settings)
    else:
        trainer = IncrementalTrainer(count_pretokens(texts, pretokenizer))

    def save(state: IncrementalTrainer) -> None:
        with atomic_write(path) as handle:
            json.dump({"settings": settings, **state.checkpoint()}, handle,
                      separators=(",", ":"))

    merges, vocab = trainer.train(config.vocab_size - len(config.special_tokens),
                                  min_frequency=config.min_frequency,
                                  show_progress=show_progress,
                                  on_checkpoint=save if every > 0 else None,
                                  checkpoint_every=max(every, 1))
    specials = {token: len(vocab) + i for i, token in enumerate(config.special_tokens)}
    return Tokenizer(vocab, merges, pretokenizer, specials)
