"""PII redaction: emails, phone numbers, IP addresses, credit cards (Luhn-checked), API keys.

`redact(text)` -> (text with <EMAIL>, <PHONE>, <IP_ADDRESS>, <CREDIT_CARD>, <API_KEY> in place of
the matches, counts per kind). Order matters: API keys and emails first (they contain digits that
would otherwise look like phones), then cards (only digit runs that pass the Luhn check, so
order numbers and timestamps survive), then IPs (each octet <= 255), then phones.

>>> redact("mail bob@example.com or call +1 (555) 123-4567")[0]
'mail <EMAIL> or call <PHONE>'
Leaves out names and street addresses (those need an NER model) and IPv6.
Exercised by `minhash-dedup run corpus --output out/` (report.json: pii counts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KINDS = ("api_key", "email", "credit_card", "ip", "phone")
TOKENS = {"api_key": "<API_KEY>", "email": "<EMAIL>", "credit_card": "<CREDIT_CARD>",
          "ip": "<IP_ADDRESS>", "phone": "<PHONE>"}

_API_KEY = re.compile(
    r"\b(?:"
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style secret keys
    r"|sk_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|xox[baprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face token
    r")\b"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# A loose shape, octets checked in Python: much faster than encoding 0..255 in the pattern.
_IP = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])")
# Not part of a longer digit group on either side (a failed card number is not a phone).
_PHONE = re.compile(r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
                    r"\d{3,4}[ .-]\d{3,4}(?!\w|[ .-]\d)")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number. luhn_ok('4111111111111111') -> True"""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _ip(match: re.Match[str]) -> bool:
    return all(int(octet) <= 255 and (octet == "0" or not octet.startswith("0"))
               for octet in match.group().split("."))


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def redact(text: str, kinds: Sequence[str] = KINDS) -> tuple[str, dict[str, int]]:
    counts = dict.fromkeys(kinds, 0)
    for kind, pattern in (("api_key", _API_KEY), ("email", _EMAIL), ("credit_card", _CARD),
                          ("ip", _IP), ("phone", _PHONE)):
        if kind not in kinds:
            continue
        token = TOKENS[kind]

        def replace(match: re.Match[str], kind: str = kind, token: str = token) -> str:
            if (kind == "credit_card" and not _card(match)) or (kind == "ip" and not _ip(match)):
                return match.group()
            counts[kind] += 1
            return token

        text = pattern.sub(replace, text)
    return text, counts
