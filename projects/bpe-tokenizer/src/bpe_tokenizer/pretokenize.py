"""Pre-tokenization: cut text into chunks that BPE never merges across.

Byte-level BPE first splits text with a regex (so "dog." becomes "dog" and "." and merges never
glue a word to its punctuation), then runs BPE inside each chunk on the chunk's UTF-8 bytes.
This file holds the three well-known patterns (GPT-2, GPT-4's cl100k, Llama 3), the GPT-2
byte <-> printable-character table that Hugging Face `tokenizer.json` files use for byte-level
vocabularies, and `PreTokenizer`: the small pipeline of Hugging Face pre-tokenizer steps that
byte-level BPE models use (`Split` with a regex, `Digits`, `ByteLevel`).

    >>> PreTokenizer.from_pattern("gpt2").split("Hello world!!")
    ['Hello', ' world', '!!']

Leaves out the other Hugging Face pre-tokenizers (Whitespace, Metaspace, Punctuation, ...):
a tokenizer.json that uses them is not a byte-level BPE and is refused with a one-line error.
Exercised by `tests/test_pretokenize.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import regex
from llm_shared import UserError

from .unicode_gap import L_NEWER, N_NEWER

# The GPT-2 pattern (also what Hugging Face's ByteLevel(use_regex=True) applies).
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
# tiktoken's cl100k_base (GPT-4), with one change: `\p{N}{1,3}+` is written `\p{N}{1,3}`. Both
# mean the same in Python's `regex` (nothing follows it to backtrack into), but Hugging Face's
# Oniguruma reads `{1,3}+` as "one to three, repeated", which would glue any run of digits.
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}"""
                r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
# Llama 3's pattern (cl100k without the possessive quantifiers).
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
                  r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "llama3": LLAMA3_PATTERN, "none": None}


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table byte -> printable character (Hugging Face stores byte-level tokens this way).

    Printable Latin-1 bytes map to themselves; the other 68 (controls, space, ...) are shifted to
    U+0100 onwards, so a space becomes 'Ġ' and a newline 'Ċ'.
    >>> bytes_to_unicode()[ord(" ")], bytes_to_unicode()[ord("a")]
    ('Ġ', 'a')
    """
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def token_to_str(token: bytes) -> str:
    """b' hello' -> 'Ġhello' (the form of a token in a Hugging Face byte-level vocab)."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in token)


def str_to_token(text: str) -> bytes:
    """'Ġhello' -> b' hello'; raises KeyError for a character outside the byte-level alphabet."""
    inverse = _unicode_to_bytes()
    return bytes(inverse[c] for c in text)


@lru_cache(maxsize=1)
def _unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


FIRST_GAP_CHARACTER = chr(min(start for start, _ in L_NEWER + N_NEWER))


def _class_without(name: str, ranges: tuple[tuple[int, int], ...]) -> str:
    excluded = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return f"[\\p{{{name}}}--[{excluded}]]"


@lru_cache(maxsize=32)
def compile_pattern(pattern: str) -> regex.Pattern:
    r"""Compile a pre-tokenization regex so that it matches as Hugging Face's Oniguruma does.

    `\p{L}` and `\p{N}` lose the code points newer than Oniguruma's Unicode tables (see
    unicode_gap.py); regex's version-1 syntax allows that set difference even inside a class
    (`[^\s\p{L}\p{N}]`). `(?-f)` keeps simple case folding, as version 0 and Oniguruma do.
    """
    rewritten = (pattern.replace(r"\p{L}", _class_without("L", L_NEWER))
                 .replace(r"\p{N}", _class_without("N", N_NEWER)))
    return regex.compile("(?-f)" + rewritten, flags=regex.V1)


def _split_isolated(pattern: regex.Pattern, piece: str) -> list[str]:
    """Matches and the text between them, in order, none empty (Hugging Face's 'Isolated')."""
    out, last = [], 0
    for match in pattern.finditer(piece):
        start, end = match.span()
        if start > last:
            out.append(piece[last:start])
        if end > start:
            out.append(piece[start:end])
        last = end
    if last < len(piece):
        out.append(piece[last:])
    return out


@dataclass
class PreTokenizer:
    """An ordered list of split steps; `split(text)` applies each step to every piece so far.

    `steps` holds the Hugging Face JSON of each step (saved as is in tokenizer.json). When the
    whole pipeline is one of the built-in regexes (whose matches cover all text, tested), `split`
    is a single `findall`; and for text below the first code point of the Unicode gap (all
    ASCII and most Latin text) the plain pattern gives the same matches as the gap-aware one
    (compile_pattern) at ~1.7x its speed (measured on stdlib sources), so it is used there.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    add_prefix_space: bool = False
    _functions: list[Callable[[str], list[str]]] = field(default_factory=list, repr=False)
    _findall: Callable[[str], list[str]] | None = field(default=None, repr=False)
    _findall_below_gap: Callable[[str], list[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._functions = [_step_function(step) for step in self.steps]
        regex_steps = [s for s in self.steps if s["type"] != "ByteLevel" or s.get("use_regex")]
        if len(regex_steps) == 1:
            only = regex_steps[0]
            pattern = None
            if only["type"] == "ByteLevel":
                pattern = GPT2_PATTERN
            elif only["type"] == "Split" and only["pattern"].get("Regex") in PATTERNS.values():
                pattern = only["pattern"]["Regex"]
            if pattern is not None:
                self._findall = compile_pattern(pattern).findall
                self._findall_below_gap = regex.compile(pattern).findall

    @classmethod
    def from_pattern(cls, name_or_regex: str | None) -> PreTokenizer:
        """'gpt2' | 'gpt4' | 'llama3' | 'none' | a regex -> the pipeline this project saves."""
        pattern = PATTERNS.get(name_or_regex, name_or_regex) if name_or_regex else None
        steps: list[dict[str, Any]] = []
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except regex.error as exc:
                raise UserError(f"--pattern {pattern!r} is not a valid regex ({exc}); pass one "
                                f"of {sorted(PATTERNS)} or a valid regex") from exc
            steps.append({"type": "Split", "pattern": {"Regex": pattern},
                          "behavior": "Isolated", "invert": False})
        steps.append({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": False})
        return cls(steps)

    @property
    def pattern(self) -> str | None:
        """The regex of a single-Split pipeline (what tiktoken needs as `pat_str`), else None."""
        splits = [s for s in self.steps if s["type"] == "Split"]
        if len(splits) == 1 and len(self.steps) == 2:
            return splits[0]["pattern"].get("Regex")
        if self.steps == [{"type": "ByteLevel", **_BYTE_LEVEL_REGEX}]:
            return GPT2_PATTERN
        return None

    def split(self, text: str) -> list[str]:
        """Text -> chunks (their concatenation is the text, plus a leading space if configured)."""
        if self.add_prefix_space and text and not text.startswith(" "):
            text = " " + text
        if self._findall is not None:
            if text.isascii() or (text and max(text) < FIRST_GAP_CHARACTER):
                return self._findall_below_gap(text)
            return self._findall(text)
        pieces = [text] if text else []
        for function in self._functions:
            pieces = [out for piece in pieces for out in function(piece)]
        return pieces


_BYTE_LEVEL_REGEX = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def _step_function(step: dict[str, Any]) -> Callable[[str], list[str]]:
    kind = step.get("type")
    if kind == "ByteLevel":
        if not step.get("use_regex", True):
            return lambda piece: [piece]
        compiled = compile_pattern(GPT2_PATTERN)
        return lambda piece: _split_isolated(compiled, piece)
    if kind == "Split":
        if step.get("behavior", "Isolated") != "Isolated" or step.get("invert"):
            raise UserError(f"Split behaviour {step.get('behavior')!r} (invert="
                            f"{step.get('invert')}) is not supported; only 'Isolated' splits are")
        spec = step["pattern"]
        source = spec["Regex"] if "Regex" in spec else regex.escape(spec["String"])
        compiled = compile_pattern(source)
        return lambda piece: _split_isolated(compiled, piece)
    if kind == "Digits":
        compiled = compile_pattern(r"\p{N}" if step.get("individual_digits") else r"\p{N}+")
        return lambda piece: _split_isolated(compiled, piece)
    raise UserError(f"pre-tokenizer {kind!r} is not part of byte-level BPE; this project reads "
                    "tokenizers whose pre-tokenizer is ByteLevel, Split or Digits")


def pretokenizer_from_json(spec: dict[str, Any] | None) -> PreTokenizer:
    """The `pre_tokenizer` object of a tokenizer.json -> PreTokenizer (flattening Sequence)."""
    if spec is None:
        raise UserError("this tokenizer.json has no pre_tokenizer, so it is not a byte-level BPE; "
                        "pass a byte-level BPE tokenizer (GPT-2 style, e.g. smollm2)")
    steps = spec["pretokenizers"] if spec.get("type") == "Sequence" else [spec]
    if not any(step.get("type") == "ByteLevel" for step in steps):
        raise UserError("this tokenizer.json's pre-tokenizer has no ByteLevel step, so it is not "
                        "a byte-level BPE; pass a byte-level BPE tokenizer (e.g. smollm2)")
    prefix = any(step.get("type") == "ByteLevel" and step.get("add_prefix_space") for step in steps)
    return PreTokenizer(list(steps), add_prefix_space=prefix)
