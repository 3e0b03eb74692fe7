"""Quality filters: Gopher's quality and repetition heuristics and C4's document rules.

`quality_metrics(text)` -> dict of statistics; `quality_verdict(metrics, config)` -> None (keep)
or the first rule that fails, as "gopher_repetition: dup_line_frac 0.42 > 0.3". Definitions follow
datatrove's `GopherRepetitionFilter`, `GopherQualityFilter` and `C4QualityFilter` (Rae et al.
2021, Raffel et al. 2020), with their default thresholds in `PipelineConfig`.

Deviations, on purpose: words are whitespace tokens (datatrove uses a language word tokenizer);
C4 is applied at document level only: a document needs `c4_min_sentences` lines that end in
terminal punctuation and have >= 3 words, and is dropped for 'lorem ipsum' or '{'; C4's line
removal (which rewrites text) is left out. The n-gram repetition statistics are computed only for
documents that passed the cheaper rules (they are the slow part). Exercised by `minhash-dedup demo`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .config import PipelineConfig

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "●", "○", "◦", "▪", "‣", "⁃", "-", "*", "–")
_SYMBOL_TOKEN = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")
_NO_LETTER_TOKEN = re.compile(r"(?<!\S)(?:[\d_]|[^\w\s])+(?!\S)")
_STOP_TOKEN = re.compile(r"(?<!\S)(?:" + "|".join(sorted(STOP_WORDS)) + r")(?!\S)")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
_TERMINAL = (".", "!", "?", '"', "'", "”")


def _duplicates(pieces: list[str]) -> tuple[int, int]:
    """(number of repeated pieces, characters in them), the first occurrence not counted."""
    seen: set[str] = set()
    count = chars = 0
    for piece in pieces:
        if piece in seen:
            count += 1
            chars += len(piece)
        else:
            seen.add(piece)
    return count, chars


def _top_ngram_chars(words: list[str], n: int) -> int:
    ngrams = Counter(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
    if not ngrams:
        return 0
    top, count = ngrams.most_common(1)[0]
    return len(top) * count if count > 1 else 0


def _dup_ngram_chars(words: list[str], n: int) -> int:
    """Characters in n-grams seen before, skipping past each repeat (datatrove's definition)."""
    seen: set[str] = set()
    repeated = i = 0
    while i < len(words) - n + 1:
        gram = "".join(words[i:i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def quality_metrics(text: str) -> dict[str, float]:
    words = text.split()
    # Token classes counted with regexes over the whole text (C speed, no loop per word).
    symbol_only = _SYMBOL_TOKEN.findall(text)  # tokens made only of punctuation
    n_content = len(words) - len(symbol_only)
    content_chars = sum(map(len, words)) - sum(map(len, symbol_only))
    lines = text.splitlines() or [""]
    n = max(n_content, 1)
    m: dict[str, float] = {
        "n_words": float(n_content),
        "mean_word_length": content_chars / n,
        "symbol_word_ratio": (text.count("#") + text.count("...") + text.count("…")) / n,
        "bullet_lines_ratio": sum(ln.lstrip().startswith(BULLETS) for ln in lines) / len(lines),
        "ellipsis_lines_ratio": sum(ln.rstrip().endswith(("...", "…")) for ln in lines)
        / len(lines),
        "alpha_words_ratio": (len(words) - len(_NO_LETTER_TOKEN.findall(text)))
        / max(len(words), 1),
        "stop_words": float(len(_STOP_TOKEN.findall(text.lower()))),
        "c4_sentences": float(sum(ln.strip().endswith(_TERMINAL) and len(ln.split()) >= 3
                                  for ln in lines)),
    }
    total = max(len(text), 1)
    paragraphs = [p for p in _PARAGRAPHS.split(text.strip()) if p]
    para_dups, para_chars = _duplicates(paragraphs)
    line_list = [ln for ln in _LINES.split(text) if ln]
    line_dups, line_chars = _duplicates(line_list)
    m["dup_para_frac"] = para_dups / max(len(paragraphs), 1)
    m["dup_para_char_frac"] = para_chars / total
    m["dup_line_frac"] = line_dups / max(len(line_list), 1)
    m["dup_line_char_frac"] = line_chars / total
    return m


def add_ngram_metrics(text: str, m: dict[str, float]) -> None:
    words = text.lower().split()
    total = max(len(text), 1)
    for n in (2, 3, 4):
        m[f"top_{n}gram_frac"] = _top_ngram_chars(words, n) / total
    for n in range(5, 11):
        m[f"dup_{n}gram_frac"] = _dup_ngram_chars(words, n) / total


def _cheap_verdict(m: dict[str, float], c: PipelineConfig, text: str) -> str | None:
    rules = [
        ("gopher_repetition", "dup_line_frac", ">", c.max_dup_line_frac),
        ("gopher_repetition", "dup_para_frac", ">", c.max_dup_para_frac),
        ("gopher_repetition", "dup_line_char_frac", ">", c.max_dup_line_char_frac),
        ("gopher_repetition", "dup_para_char_frac", ">", c.max_dup_para_char_frac),
        ("gopher_quality", "n_words", "<", c.min_words),
        ("gopher_quality", "n_words", ">", c.max_words),
        ("gopher_quality", "mean_word_length", "<", c.min_mean_word_length),
        ("gopher_quality", "mean_word_length", ">", c.max_mean_word_length),
        ("gopher_quality", "symbol_word_ratio", ">", c.max_symbol_word_ratio),
        ("gopher_quality", "bullet_lines_ratio", ">", c.max_bullet_lines_ratio),
        ("gopher_quality", "ellipsis_lines_ratio", ">", c.max_ellipsis_lines_ratio),
        ("gopher_quality", "alpha_words_ratio", "<", c.min_alpha_words_ratio),
        ("gopher_quality", "stop_words", "<", c.min_stop_words),
    ]
    for family, name, op, limit in rules:
        value = m[name]
        if (value < limit) if op == "<" else (value > limit):
            return f"{family}: {name} {value:.4g} {op} {limit:g}"
    if c.c4_drop_lorem_ipsum and "lorem ipsum" in text.lower():
        return "c4: contains 'lorem ipsum'"
    if c.c4_drop_curly_bracket and "{" in text:
        return "c4: contains a curly bracket '{'"
    if m["c4_sentences"] < c.c4_min_sentences:
        return f"c4: c4_sentences {m['c4_sentences']:.4g} < {c.c4_min_sentences}"
    return None


def quality_verdict(text: str, c: PipelineConfig) -> tuple[str | None, dict[str, Any]]:
    """(None, metrics) to keep the document, or (reason, metrics) to remove it."""
    m = quality_metrics(text)
    reason = _cheap_verdict(m, c, text)
    if reason is not None:
        return reason, m
    add_ngram_metrics(text, m)
    for n, limit in zip((2, 3, 4), c.max_top_ngram_frac, strict=True):
        name = f"top_{n}gram_frac"
        if m[name] > limit:
            return f"gopher_repetition: {name} {m[name]:.4g} > {limit:g}", m
    for n, limit in zip(range(5, 11), c.max_dup_ngram_frac, strict=True):
        name = f"dup_{n}gram_frac"
        if m[name] > limit:
            return f"gopher_repetition: {name} {m[name]:.4g} > {limit:g}", m
    return None, m
