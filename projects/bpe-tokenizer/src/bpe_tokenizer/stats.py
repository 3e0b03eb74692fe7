"""Compression statistics of several tokenizers side by side, as a table and a PNG plot.

For one evaluation text each tokenizer reports:
- bytes/token: UTF-8 bytes of the text per token (higher = better compression, shorter sequences);
- tokens/word: tokens per whitespace-separated word (the "fertility");
- vocab used: the share of the vocabulary that appears at least once in the text.

The line-up: ours at several vocabulary sizes (one training run, then truncated: BPE's first k
merges do not depend on the final size), SmolLM2's byte-level BPE (49152 tokens, loaded by this
project) and all-MiniLM-L6-v2's WordPiece (30522 tokens, lower-cased, through Hugging Face
`tokenizers`; its unknown characters become [UNK], so its bytes/token flatters it on odd text).

Leaves out speed (see bench.py). Exercised by `bpe-tokenizer stats` and `tests/test_stats.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from llm_shared import EMBEDDED_ENCODER, atomic_write, model_path

from .hf_format import load_tokenizer
from .tokenizer import Tokenizer


@dataclass
class TokenizerStats:
    name: str
    vocab_size: int
    tokens: int
    bytes_per_token: float
    tokens_per_word: float
    vocab_used: float

    def row(self) -> dict[str, object]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def measure(name: str, ids: Sequence[int], text: str, vocab_size: int) -> TokenizerStats:
    """Figures for one tokenizer's ids of `text`.

    >>> measure("x", [1, 2, 2], "ab cd", 10).bytes_per_token
    1.6666666666666667
    """
    tokens = max(len(ids), 1)
    return TokenizerStats(name=name, vocab_size=vocab_size, tokens=len(ids),
                          bytes_per_token=len(text.encode("utf-8")) / tokens,
                          tokens_per_word=len(ids) / max(len(text.split()), 1),
                          vocab_used=len(set(ids)) / vocab_size)


def minilm_encoder() -> tuple[Callable[[str], list[int]], int]:
    from tokenizers import Tokenizer as HFTokenizer

    wordpiece = HFTokenizer.from_file(str(Path(model_path(EMBEDDED_ENCODER)) / "tokenizer.json"))
    wordpiece.no_truncation()
    return (lambda text: wordpiece.encode(text, add_special_tokens=False).ids,
            wordpiece.get_vocab_size())


def compare_tokenizers(ours: Tokenizer, vocab_sizes: Sequence[int], text: str
                       ) -> list[TokenizerStats]:
    """Stats of ours at each size (truncating `ours`), SmolLM2's BPE and MiniLM's WordPiece."""
    rows = []
    for size in sorted(vocab_sizes):
        small = ours.truncated(size)
        rows.append(measure(f"ours-{size}", small.encode_ordinary(text), text, small.vocab_size))
    smollm2 = load_tokenizer("smollm2")
    rows.append(measure("smollm2 (BPE)", smollm2.encode_ordinary(text), text, smollm2.vocab_size))
    encode, size = minilm_encoder()
    rows.append(measure("minilm (WordPiece)", encode(text), text, size))
    return rows


def plot_stats(rows: Sequence[TokenizerStats], path: str | Path, title: str) -> Path:
    """Two bar charts (bytes/token, vocab used) written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in rows]
    colours = ["tab:blue" if n.startswith("ours") else "tab:orange" for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.bar(names, [r.bytes_per_token for r in rows], color=colours)
    left.set_ylabel("UTF-8 bytes per token (higher is better)")
    right.bar(names, [100 * r.vocab_used for r in rows], color=colours)
    right.set_ylabel("% of the vocabulary used on this text")
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=30)
        for label in axis.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.suptitle(title)
    fig.tight_layout()
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return target
