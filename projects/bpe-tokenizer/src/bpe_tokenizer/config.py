"""Settings of bpe-tokenizer's commands; each field's help is the reference and becomes a flag.

Precedence: defaults -> `--config file.toml` -> flags (llm_shared.build_config). Checks that
need only the values live in `__post_init__`, so a bad value is a one-line error before any work.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import UserError, param

PATTERN_HELP = ("pre-tokenization: gpt2, gpt4 (cl100k), llama3, none (BPE over whole texts) or a "
                "regex of your own")


def _check_vocab(flag: str, value: int, num_special: int = 0) -> None:
    if value < 256 + num_special:
        raise UserError(f"{flag} {value} is too small: byte-level BPE needs 256 byte tokens + "
                        f"{num_special} special token(s); pass at least {256 + num_special}")


@dataclass
class TrainConfig:
    vocab_size: int = param(4096, help="final vocabulary size, special tokens included")
    pattern: str = param("gpt4", help=PATTERN_HELP)
    special_tokens: list[str] = param(["<|endoftext|>"], help="special tokens, given ids after "
                                      "the learned ones ('' alone for none)")
    min_frequency: int = param(2, help="stop when the best pair occurs fewer times than this")
    jsonl_field: str = param("text", help="field that holds the text in .jsonl inputs")

    def __post_init__(self) -> None:
        self.special_tokens = [t for t in self.special_tokens if t]
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise UserError(f"--special-tokens lists a token twice ({self.special_tokens}); "
                            "pass each one once")
        _check_vocab("--vocab-size", self.vocab_size, len(self.special_tokens))
        if self.min_frequency < 1:
            raise UserError(f"--min-frequency must be >= 1 (got {self.min_frequency})")


@dataclass
class StatsConfig:
    vocab_sizes: list[int] = param([512, 1024, 2048, 4096],
                                   help="vocabulary sizes of our tokenizers, trained on the inputs")
    pattern: str = param("gpt4", help=PATTERN_HELP)
    eval_corpus: str = param("docstrings", help="built-in corpus kind(s) to measure on, "
                             "comma-separated (held out from the default training corpus)",
                             choices=("docstrings", "sources", "topics", "docstrings,sources"))
    eval_chars: int = param(400_000, help="characters of the evaluation text")
    plot: str = param("stats.png", help="PNG file for the comparison plot ('' for none)")

    def __post_init__(self) -> None:
        for size in self.vocab_sizes:
            _check_vocab("--vocab-sizes", size, 1)
        if self.eval_chars < 1000:
            raise UserError(f"--eval-chars must be >= 1000 (got {self.eval_chars})")


@dataclass
class DemoConfig:
    vocab_size: int = param(2048, help="vocabulary size to train on the Python docs")
    pattern: str = param("gpt4", help=PATTERN_HELP)
    sentence: str = param("The tokenizer splits Python's docstrings into 2048 subword units, "
                          "naïvely 😀.", help="sentence to segment and show")

    def __post_init__(self) -> None:
        _check_vocab("--vocab-size", self.vocab_size, 1)


@dataclass
class BenchConfig:
    vocab_size: int = param(4096, help="vocabulary size for the training and encoding benchmarks")
    pattern: str = param("gpt4", help=PATTERN_HELP)
    repeats: int = param(3, help="timed repeats per peer (alternating; the median is reported)")
    encode_mb: float = param(4.0, help="MB of stdlib sources to encode in the throughput test")
    baseline_vocab_size: int = param(4096, help="vocabulary size for the recount baseline (it "
                                     "takes minutes at 4096; lower it for a quick look)")

    def __post_init__(self) -> None:
        _check_vocab("--vocab-size", self.vocab_size)
        _check_vocab("--baseline-vocab-size", self.baseline_vocab_size)
        if self.repeats < 1 or self.encode_mb <= 0:
            raise UserError("--repeats must be >= 1 and --encode-mb > 0")

