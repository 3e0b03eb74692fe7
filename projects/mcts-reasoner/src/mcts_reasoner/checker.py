"""The checker: one exact verdict for every strategy, so no strategy is scored by a softer rule.

`check(task, problem, completion) -> Verdict(score, status, extracted)`, with the contract of the
README: the answer span is the inside of the last complete `<answer>…</answer>`, else of the last
complete `\\boxed{…}`, else `parse_failure`; numeric answers compare exactly as fractions; Countdown
answers are parsed by a small recursive-descent parser (integers, binary + - * /, parentheses) and
evaluated with `Fraction`. A parse failure never scores. Leaves out symbolic answers (expressions
in x, sets, intervals): those are `parse_failure` here, on purpose. Exercised by
`mcts-reasoner check --input FILE.jsonl --json` and tests/test_checker.py.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

CORRECT, WRONG, PARSE_FAILURE, INVALID_GOLD = "correct", "wrong", "parse_failure", "invalid_gold"
VERDICTS = (CORRECT, WRONG, PARSE_FAILURE, INVALID_GOLD)
NUMERIC_TASKS = ("arithmetic", "word", "logic")
TASKS = (*NUMERIC_TASKS, "countdown")


@dataclass(frozen=True)
class Verdict:
    score: float  # 1.0 only for `correct`
    status: str  # one of VERDICTS
    extracted: str | None  # the answer span, None when there was none

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.status, "score": self.score, "extracted": self.extracted}


def extract_span(completion: str) -> str | None:
    """The answer span: `a <answer>1</answer> <answer>2</answer>` -> '2'; `\\boxed{\\frac{1}{2}}`
    -> '\\frac{1}{2}'; an unclosed last `<answer>` is skipped for the last complete one."""
    close = completion.rfind("</answer>")
    if close >= 0:
        open_ = completion.rfind("<answer>", 0, close)
        if open_ >= 0:
            return completion[open_ + len("<answer>"):close]
    starts = [m.end() for m in re.finditer(r"\\boxed\{", completion)]
    for start in reversed(starts):  # the last one whose braces balance
        depth = 1
        for i in range(start, len(completion)):
            depth += {"{": 1, "}": -1}.get(completion[i], 0)
            if depth == 0:
                return completion[start:i]
    return None


_DECIMAL = re.compile(r"([+-]?)((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)")
_SLASH = re.compile(r"([+-]?)(\d+)/(\d+)")
_FRAC = re.compile(r"([+-]?)\\d?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}")


def parse_number(text: str) -> Fraction | None:
    """One number as an exact fraction, or None: '$1,234.$' -> 1234, '−0.75' -> -3/4,
    '\\frac{3}{4}' -> 3/4; '12 apples', '1/0', '1,23', '3 4' -> None."""
    s = text.strip().replace("$", "").strip()
    if s.endswith("."):
        s = s[:-1]
    s = s.replace("\u2212", "-")
    if m := _DECIMAL.fullmatch(s):
        value = Fraction(m.group(2).replace(",", ""))
    elif m := _SLASH.fullmatch(s) or _FRAC.fullmatch(s):
        if int(m.group(3)) == 0:
            return None
        value = Fraction(int(m.group(2)), int(m.group(3)))
    else:
        return None
    return -value if m.group(1) == "-" else value


class _ParseError(Exception):
    pass


_TOKEN = re.compile(r"\s*(?:(\d+)|([-+*/()]))")


def _tokens(expr: str) -> list[str]:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise _ParseError(expr[pos:])
        out.append(m.group(1) or m.group(2))
        pos = m.end()
    return out


def parse_expression(expr: str) -> tuple[Any, list[int]]:
    """A Countdown expression -> (tree, integers used); tree leaves are ints, nodes (op, l, r).
    Raises _ParseError on anything but integers, binary + - * / and parentheses."""
    toks, pos, used = _tokens(expr), 0, []

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise _ParseError("unexpected end")
        pos += 1
        return toks[pos - 1]

    def factor() -> Any:
        tok = take()
        if tok.isdigit():
            used.append(int(tok))
            return int(tok)
        if tok == "(":
            node = expr_()
            if take() != ")":
                raise _ParseError("missing )")
            return node
        raise _ParseError(f"unexpected {tok}")  # includes unary minus

    def term() -> Any:
        node = factor()
        while peek() in ("*", "/"):
            node = (take(), node, factor())
        return node

    def expr_() -> Any:
        node = term()
        while peek() in ("+", "-"):
            node = (take(), node, term())
        return node

    tree = expr_()
    if pos != len(toks):
        raise _ParseError("trailing tokens")
    return tree, used


def evaluate(tree: Any) -> Fraction:
    """Exact value of a parsed tree; ZeroDivisionError on a division by zero."""
    if isinstance(tree, int):
        return Fraction(tree)
    op, left, right = tree[0], evaluate(tree[1]), evaluate(tree[2])
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right  # Fraction raises ZeroDivisionError on 0


def _gold_countdown(problem: Any) -> tuple[list[int], int] | None:
    if not isinstance(problem, dict):
        return None
    numbers, target = problem.get("numbers"), problem.get("target")
    ok_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    if not isinstance(numbers, list) or not numbers or not all(ok_int(n) for n in numbers):
        return None
    return (numbers, target) if ok_int(target) else None


def check_countdown(problem: Any, span: str) -> str:
    """Verdict status of an answer span for a Countdown problem (gold already validated)."""
    numbers, target = problem["numbers"], problem["target"]
    expr = span.replace("\u00d7", "*").replace("\u00f7", "/").replace("\u2212", "-").strip()
    if expr.count("=") > 1:
        return PARSE_FAILURE
    claimed = None
    if "=" in expr:
        expr, rhs = expr.split("=")
        claimed = parse_number(rhs)
        if claimed is None:
            return PARSE_FAILURE
    try:
        tree, used = parse_expression(expr)
    except _ParseError:
        return PARSE_FAILURE
    if claimed is not None and claimed != target:
        return WRONG
    if Counter(used) != Counter(numbers):
        return WRONG
    try:
        value = evaluate(tree)
    except ZeroDivisionError:
        return WRONG
    return CORRECT if value == target else WRONG


def check(task: str, problem: Any, completion: str) -> Verdict:
    """The one verdict every strategy is scored with (see the module docstring)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    if task == "countdown":
        gold_ok = _gold_countdown(problem) is not None
    else:
        answer = problem.get("answer") if isinstance(problem, dict) else None
        gold = parse_number(answer) if isinstance(answer, str) else None
        gold_ok = gold is not None
    span = extract_span(completion)
    if not gold_ok:
        return Verdict(0.0, INVALID_GOLD, span)
    if span is None:
        return Verdict(0.0, PARSE_FAILURE, None)
    if task == "countdown":
        status = check_countdown(problem, span)
    else:
        value = parse_number(span)
        status = PARSE_FAILURE if value is None else CORRECT if value == gold else WRONG
    return Verdict(1.0 if status == CORRECT else 0.0, status, span)


def answer_key(task: str, span: str | None) -> str | None:
    """What self-consistency votes over: the exact value of a numeric span ('0.50' and '1/2'
    share the key '1/2'), or a Countdown expression with its spaces removed; None if unparseable."""
    if span is None:
        return None
    if task == "countdown":
        return "".join(span.split()) or None
    value = parse_number(span)
    return None if value is None else str(value)
