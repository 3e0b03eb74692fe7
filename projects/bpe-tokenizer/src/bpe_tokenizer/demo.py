"""The chapter demo: train a 2k-token BPE on the Python docs, show it at work, compare to SmolLM2.

Run: `uv run bpe-tokenizer demo` (about 20 s on 2 idle cores). It trains on `pydoc_data.topics`
(the language reference shipped with Python, ~0.47 MB), prints a colour-coded segmentation of a
sentence by both tokenizers, then measures compression (UTF-8 bytes per token) on held-out text:
the stdlib's docstrings, which the training never saw. The last stdout line is one JSON object
with `vocab_size`, `train_seconds`, `bytes_per_token` and `smollm2_bytes_per_token`.

Leaves out the embeddings half (see `bpe-tokenizer embeddings --help`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llm_shared import corpus_text
from rich.console import Console
from rich.text import Text

from .config import DemoConfig
from .hf_format import load_tokenizer
from .inputs import iter_texts
from .tokenizer import Tokenizer

COLOURS = ("on dark_green", "on dark_blue", "on dark_red", "on dark_magenta", "on dark_cyan")
HELD_OUT_CHARS = 200_000  # NOTE: enough for stable figures (±0.5% vs 400k) in a few seconds


def token_pieces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """Each token as text; a token that is part of a character shows its bytes (<f0 9f>)."""
    pieces = []
    for token_id in ids:
        data = tokenizer.token_bytes(token_id)
        try:
            pieces.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            pieces.append("<" + data.hex(" ") + ">")
    return pieces


def segmentation(tokenizer: Tokenizer, text: str, console: Console) -> Text:
    """Tokens on alternating backgrounds on a terminal, [bracketed] elsewhere (logs, pipes)."""
    pieces = token_pieces(tokenizer, tokenizer.encode(text, allowed_special="all"))
    line = Text()
    for i, piece in enumerate(pieces):
        if console.is_terminal:
            line.append(piece, style=COLOURS[i % len(COLOURS)])
        else:
            line.append(f"[{piece}]")
    return line


def run_demo(config: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(highlight=False, markup=False, soft_wrap=True)
    console.print(f"Training a {config.vocab_size}-token byte-level BPE on the Python docs "
                  f"(pydoc topics, pattern {config.pattern}) ...")
    start = time.perf_counter()
    ours = Tokenizer.train(iter_texts(["corpus:topics"]), config.vocab_size,
                           pattern=config.pattern, special_tokens=["<|endoftext|>"],
                           show_progress=True)
    train_seconds = time.perf_counter() - start
    console.print(f"  trained in {train_seconds:.2f} s; the first merges: "
                  + ", ".join(repr(ours.vocab[new].decode("utf-8", "replace"))
                              for _, _, new in ours.merges[:8]))
    smollm2 = load_tokenizer("smollm2")
    for name, tokenizer in ((f"ours ({ours.vocab_size})", ours),
                            (f"SmolLM2 ({smollm2.vocab_size})", smollm2)):
        ids = tokenizer.encode(config.sentence, allowed_special="all")
        console.print(f"\n{name}: {len(ids)} tokens")
        console.print(segmentation(tokenizer, config.sentence, console))
        exact = tokenizer.decode(ids) == config.sentence
        console.print(f"decode(encode(sentence)) == sentence: {exact}")
    held_out = corpus_text(("docstrings",), max_chars=HELD_OUT_CHARS)
    size = len(held_out.encode("utf-8"))
    ours_bpt = size / len(ours.encode_ordinary(held_out))
    smollm2_bpt = size / len(smollm2.encode_ordinary(held_out))
    console.print(f"\nCompression on {size:,} bytes of held-out stdlib docstrings: ours "
                  f"{ours_bpt:.3f} bytes/token, SmolLM2 {smollm2_bpt:.3f} bytes/token "
                  f"({smollm2.vocab_size / ours.vocab_size:.0f}x the vocabulary buys "
                  f"{smollm2_bpt / ours_bpt - 1:+.0%} compression).")
    return {"vocab_size": ours.vocab_size, "train_seconds": round(train_seconds, 3),
            "bytes_per_token": round(ours_bpt, 4), "smollm2_bytes_per_token": round(smollm2_bpt, 4)}
