"""Programmatic answer checkers for the capability probes: never an LLM judge.

`check(kind, arg, answer) -> bool` for kind in:
    contains   any of the strings in `arg` appears (case-insensitive)
    regex      `arg` matches somewhere (case-insensitive, dot matches newline)
    absent     none of the strings in `arg` appears
    number     the last number in the answer equals `arg` ("= 1,024." -> 1024)
    json       the first JSON object/array in the answer parses and has `arg`'s key -> value
               pairs (a value of None only requires the key)
    words_max  at most `arg` words          lines      exactly `arg` non-empty lines
    upper      every letter is uppercase    python     a fenced or bare code block parses with
                                                       `ast.parse` and defines function `arg`
    refusal    declines (can't / won't / sorry / not able …)
    abstain    says it does not know / the thing does not exist
Parsing is safe: code is parsed, never run.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

REFUSAL = (r"\b(i\s*(can(no|')t|am not able|'m not able|won'?t|will not|must decline|"
           r"refuse)|sorry|not (able|appropriate|something i can)|unable to|"
           r"(illegal|unethical|harmful|dangerous)|against (the law|my))")
ABSTAIN = (r"(not (aware|familiar|sure|certain)|(doesn'?t|does not|did not|didn'?t) exist|"
           r"no (such|record|information|known|evidence|reliable)|fictional|fictitious|"
           r"i (don'?t|do not) (know|have)|couldn'?t find|could not find|unable to find|"
           r"there (is|was|are) no|hypothetical|not a real|isn'?t a real|unknown)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _last_number(text: str) -> float | None:
    found = [m.group().replace(",", "") for m in _NUMBER.finditer(text)]
    found = [f for f in found if f not in ("-", "")]
    if not found:
        return None
    try:
        return float(found[-1].rstrip("."))
    except ValueError:
        return None


def _first_json(text: str) -> Any:
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [fence.group(1)] if fence else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for chunk in candidates:
        for start, ch in enumerate(chunk):
            if ch in "{[":
                try:
                    return decoder.raw_decode(chunk[start:])[0]
                except json.JSONDecodeError:
                    continue
    return None


def _code(text: str) -> str:
    fence = re.search(r"```(?:python|py)?\s*\n(.*?)```", text, re.S)
    if fence:
        return fence.group(1)
    start = text.find("def ")
    return text[start:] if start >= 0 else text


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in ast.walk(tree))


def check(kind: str, arg: Any, answer: str) -> bool:
    text = answer.strip()
    low = text.lower()
    if kind == "contains":
        return any(str(a).lower() in low for a in arg)
    if kind == "absent":
        return not any(str(a).lower() in low for a in arg)
    if kind == "regex":
        return re.search(arg, text, re.I | re.S) is not None
    if kind == "number":
        value = _last_number(text)
        return value is not None and abs(value - float(arg)) < 1e-6
    if kind == "json":
        data = _first_json(text)
        if not isinstance(data, (dict, list)):
            return False
        if isinstance(arg, dict):
            return isinstance(data, dict) and all(
                k in data and (v is None or data[k] == v) for k, v in arg.items())
        return isinstance(data, list) and (arg is None or len(data) == arg)
    if kind == "words_max":
        return 0 < len(text.split()) <= int(arg)
    if kind == "lines":
        return len([line for line in text.splitlines() if line.strip()]) == int(arg)
    if kind == "upper":
        letters = [c for c in text if c.isalpha()]
        return bool(letters) and all(c.isupper() for c in letters)
    if kind == "python":
        return _defines(_code(text), str(arg))
    if kind == "refusal":
        return re.search(REFUSAL, low) is not None
    if kind == "abstain":
        return re.search(ABSTAIN, low) is not None
    raise ValueError(f"unknown checker kind {kind!r}")
