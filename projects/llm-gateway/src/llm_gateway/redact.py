"""PII redaction for the request log: emails, phone numbers, card numbers (Luhn), IPs, API keys.

Applied to every string before a log line is written, so the JSONL log can be shared with the
people who debug the service. Card numbers are redacted only when their digits pass the Luhn
check (a 16-digit order id is not a card); phone numbers need 7-15 digits with a leading + or a
separator pattern, so plain integers in a prompt survive. Keys: `sk-…` and `Bearer …` tokens.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_KEY = re.compile(r"\b(?:sk-[A-Za-z0-9_\-]{16,}|Bearer\s+[A-Za-z0-9._\-]{16,})")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?"
                    r"\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w.])")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def luhn_ok(digits: str) -> bool:
    """The card-number checksum. '4111111111111111' -> True, '4111111111111112' -> False."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def _ip(match: re.Match) -> str:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return match.group()
    return "[IP]"


def _phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[PHONE]" if 7 <= len(digits) <= 15 else match.group()


def redact(text: str) -> str:
    """'mail bob@x.org from 10.0.0.1' -> 'mail [EMAIL] from [IP]'"""
    text = _KEY.sub("[KEY]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    text = _IPV4.sub(_ip, text)
    text = _IPV6.sub(_ip, text)
    return _PHONE.sub(_phone, text)


def redact_obj(value: Any) -> Any:
    """Redact every string inside nested dicts and lists."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_obj(v) for v in value]
    return value
