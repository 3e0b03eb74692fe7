"""Text normalisation: a light, meaning-preserving clean-up for output and a strong key for dedup.

- `clean_text`: what the kept document becomes: Unicode NFC, CRLF/CR -> LF, control characters
  (other than tab and newline) removed, trailing spaces of lines removed. Safe for code.
- `dedup_key`: what exact and near dedup compare (text-dedup's recipe): NFKC, lower case, digits
  -> 0, punctuation removed, runs of whitespace -> one space. Two documents that differ only in
  case, spacing, numbers or punctuation get the same key.

>>> dedup_key("Hello,   World 2024!")
'hello world 0000'
Leaves out language-specific folding (accents, scripts). Exercised by `minhash-dedup demo`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _TRAILING.sub("", _CONTROL.sub("", text))


def dedup_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", _DIGIT.sub("0", text))
    return _SPACE.sub(" ", text).strip()


def content_hash(key: str) -> bytes:
    """16-byte blake2b digest of a dedup key (collisions: ~2^-64 at a billion documents)."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()
