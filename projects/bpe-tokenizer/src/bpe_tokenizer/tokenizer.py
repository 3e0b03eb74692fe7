"""The byte-level BPE tokenizer: encode text to ids and decode ids to text.

`Tokenizer` holds a vocabulary (id -> bytes), the merges in rank order, a pre-tokenizer and the
special tokens. It is built either by training (`Tokenizer.train`) or from a Hugging Face
tokenizer.json (hf_format.py), and gives the same ids as Hugging Face `tokenizers` for both.

Encoding a chunk: start from its UTF-8 bytes, then repeatedly merge the adjacent pair with the
lowest merge rank (all its occurrences, left to right) until no pair has a rank. Since text is
full of repeated chunks (" the", "self", "\n    "), finished chunks are cached.

Special tokens follow tiktoken's contract: `encode(text)` raises if the text contains a special
token (`disallowed_special="all"`); `allowed_special={"<|endoftext|>"}` or `"all"` encodes them as
their ids; `disallowed_special=()` encodes them as ordinary text. `encode_ordinary` ignores them.

    >>> tok = Tokenizer.train(["hello hello hello"], vocab_size=260)
    >>> tok.decode(tok.encode("hello")) == "hello"
    True

Decoding joins the bytes of the ids; invalid UTF-8 (e.g. a token cut inside a character) becomes
U+FFFD with `errors="replace"` (the default, as tiktoken), or raises with `errors="strict"`.
Leaves out dropout, byte fallback and offsets. Exercised by `bpe-tokenizer encode/decode` and
`tests/test_tokenizer.py`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Literal

import regex
from llm_shared import UserError

from .inputs import count_pretokens
from .pretokenize import PreTokenizer
from .trainer import Merge, check_vocab_size, merge_word, train_bpe

# NOTE: the cache is cleared when it reaches this many chunks. Measured with tracemalloc: a cached
# chunk costs ~165 bytes, so the cap bounds the cache near 45 MB, while 4 MB of stdlib sources
# hold only ~22k distinct chunks (SmolLM2's pattern): clearing is rare in practice.
CACHE_LIMIT = 2**18


class EncodeError(UserError, ValueError):
    """Text that cannot be encoded (a lone surrogate, a disallowed special token)."""


class Tokenizer:
    def __init__(self, vocab: dict[int, bytes], merges: Sequence[Merge], pretokenizer: PreTokenizer,
                 special_tokens: dict[str, int] | None = None, *, ignore_merges: bool = False
                 ) -> None:
        self.vocab = dict(vocab)  # id -> bytes, ordinary tokens only
        self.merges = list(merges)  # (left, right, merged) in rank order
        self.pretokenizer = pretokenizer
        self.special_tokens = dict(special_tokens or {})  # "<|endoftext|>" -> id
        self.ignore_merges = ignore_merges  # Llama-3 style: a chunk that is a token stays whole
        self.ids_of = {token: i for i, token in self.vocab.items()}
        # A byte with no token of its own is dropped, as Hugging Face does when there is no
        # unk_token (SmolLM2 has no token for 21 bytes such as 0x04 and 0xFF); then merges apply
        # across the gap, again as Hugging Face does. Tokenizers trained here have all 256.
        self.byte_ids = [self.ids_of.get(bytes([b])) for b in range(256)]
        self.missing_bytes = [b for b, i in enumerate(self.byte_ids) if i is None]
        self.ranks = {(a, b): (rank, new) for rank, (a, b, new) in enumerate(self.merges)}
        self.special_ids = {i: s for s, i in self.special_tokens.items()}
        self._cache: dict[str, list[int]] = {}

    # ----- building -----------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, *, pattern: str | None = "gpt4",
              special_tokens: Sequence[str] = (), min_frequency: int = 1,
              show_progress: bool = False) -> Tokenizer:
        """Train on texts; specials get the ids after the learned tokens (vocab_size includes them).

        `pattern` is 'gpt2', 'gpt4', 'llama3', 'none' (whole texts) or a regex of your own.
        """
        if len(set(special_tokens)) != len(special_tokens) or "" in special_tokens:
            raise UserError(f"special tokens must be distinct and non-empty (got "
                            f"{list(special_tokens)}); pass each one once")
        check_vocab_size(vocab_size, len(special_tokens))
        pretokenizer = PreTokenizer.from_pattern(pattern)
        counts = count_pretokens(texts, pretokenizer)
        merges, vocab = train_bpe(counts, vocab_size - len(special_tokens),
                                  min_frequency=min_frequency, show_progress=show_progress)
        specials = {token: len(vocab) + i for i, token in enumerate(special_tokens)}
        return cls(vocab, merges, pretokenizer, specials)

    def truncated(self, vocab_size: int) -> Tokenizer:
        """The tokenizer that training to `vocab_size` would have given (no specials).

        Greedy BPE makes the same merges in the same order whatever the target size, so a
        smaller vocabulary is a prefix of the merges: one training run serves every size.
        """
        if vocab_size >= len(self.vocab):
            return Tokenizer(self.vocab, self.merges, self.pretokenizer,
                             ignore_merges=self.ignore_merges)
        merges: list[Merge] = []
        for merge in self.merges:  # ids were handed out in merge order (tokenizers trained here)
            if merge[2] >= vocab_size:
                break
            merges.append(merge)
            if merge[2] == vocab_size - 1:
                break  # training to vocab_size stops right after creating its last token
        vocab = {i: t for i, t in self.vocab.items() if i < vocab_size}
        return Tokenizer(vocab, merges, self.pretokenizer, ignore_merges=self.ignore_merges)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    def token_bytes(self, token_id: int) -> bytes:
        if token_id in self.vocab:
            return self.vocab[token_id]
        if token_id in self.special_ids:
            return self.special_ids[token_id].encode("utf-8")
        raise UserError(f"token id {token_id} is not in this vocabulary (size {self.vocab_size}); "
                        "decode ids produced by the same tokenizer")

    # ----- encoding -----------------------------------------------------------------------
    def encode_chunk(self, chunk: bytes) -> list[int]:
        """BPE on one pre-token: b"hello" -> its ids, by lowest-rank-first merges."""
        if self.ignore_merges and chunk in self.ids_of:
            return [self.ids_of[chunk]]
        ids = [self.byte_ids[b] for b in chunk]
        if self.missing_bytes:
            ids = [i for i in ids if i is not None]
        ranks = self.ranks
        while len(ids) >= 2:
            best = min(pairwise(ids), key=lambda pair: ranks.get(pair, (float("inf"),))[0])
            if best not in ranks:
                break
            ids = merge_word(ids, best[0], best[1], ranks[best][1])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> ids, with special-token strings treated as plain text."""
        cache, out = self._cache, []
        for chunk in self.pretokenizer.split(text):
            ids = cache.get(chunk)
            if ids is None:
                try:
                    data = chunk.encode("utf-8")
                except UnicodeEncodeError as exc:
                    bad = chunk[exc.start]
                    raise EncodeError(f"the text holds a lone surrogate U+{ord(bad):04X}, which "
                                      "UTF-8 cannot encode; clean the text (e.g. "
                                      "s.encode('utf-8', 'replace').decode())") from None
                ids = self.encode_chunk(data)
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[chunk] = ids
            out.extend(ids)
        return out

    def encode(self, text: str, *, allowed_special: Collection[str] | Literal["all"] = (),
               disallowed_special: Collection[str] | Literal["all"] = "all") -> list[int]:
        """Text -> ids; special tokens as tiktoken handles them (see the module docstring)."""
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise EncodeError(f"allowed_special names {sorted(unknown)}, which are not special "
                              f"tokens of this tokenizer ({sorted(self.special_tokens)})")
        disallowed = (set(self.special_tokens) - allowed if disallowed_special == "all"
                      else set(disallowed_special))
        if disallowed:
            found = _special_pattern(frozenset(disallowed)).search(text)
            if found:
                raise EncodeError(f"the text contains the special token {found.group()!r}; pass "
                                  "allowed_special (--allow-special) to encode it as a special "
                                  "token or disallowed_special=() (--ordinary) to encode it as "
                                  "text")
        if not allowed:
            return self.encode_ordinary(text)
        out: list[int] = []
        last = 0
        for match in _special_pattern(frozenset(allowed)).finditer(text):
            out += self.encode_ordinary(text[last:match.start()])
            out.append(self.special_tokens[match.group()])
            last = match.end()
        return out + self.encode_ordinary(text[last:])

    # ----- decoding -----------------------------------------------------------------------
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self.token_bytes(i) for i in ids)

    def decode(self, ids: Iterable[int], *, errors: str = "replace") -> str:
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ----- peers --------------------------------------------------------------------------
    def to_tiktoken(self, name: str = "bpe-tokenizer"):  # -> tiktoken.Encoding
        """A tiktoken.Encoding with these ranks (token bytes -> id) and specials.

        Same ids as this tokenizer when merge ranks follow id order, as in tokenizers trained here
        (tiktoken ranks the merged bytes, not the merge); needs a single-regex pre-tokenizer.
        """
        import tiktoken

        if self.pretokenizer.pattern is None:
            raise UserError("tiktoken needs a single regex pre-tokenizer; train with --pattern "
                            "gpt2, gpt4 or llama3")
        return tiktoken.Encoding(name=name, pat_str=self.pretokenizer.pattern,
                                 mergeable_ranks={token: i for i, token in self.vocab.items()},
                                 special_tokens=self.special_tokens)


@lru_cache(maxsize=64)
def _special_pattern(tokens: frozenset[str]) -> regex.Pattern:
    # Longest first, so that of two specials where one is a prefix the longer one wins
    # (Hugging Face matches added tokens leftmost-longest).
    ordered = sorted(tokens, key=lambda t: (-len(t), t))
    return regex.compile("|".join(regex.escape(t) for t in ordered))
