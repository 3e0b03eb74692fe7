"""An exact Countdown solver: the ground truth that validates the checker on Countdown.

Repeatedly combines any two remaining values with + - * / (exact fractions, both orders for - and
/) until one value is left; failed multisets are memoised (six numbers: seconds).
Every number is used exactly once, as the checker demands. Leaves out the "use a subset" variant.
Exercised by `mcts-reasoner solve --task countdown --strategy solver` and tests/test_solver.py.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_NUMBERS = 6  # NOTE: 6 numbers is the classic game; 7 already takes tens of seconds in Python


def solve_countdown(numbers: list[int], target: int) -> str | None:
    """An expression using each number once that equals `target`, or None if there is none.

    Example: `solve_countdown([2, 3, 4], 20)` gives one solution such as '(2+3)*4';
    `solve_countdown([1, 1], 5)` gives None.
    """
    if len(numbers) > MAX_NUMBERS:
        raise ValueError(f"at most {MAX_NUMBERS} numbers (got {len(numbers)})")
    failed: set[tuple[Fraction, ...]] = set()

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        if len(items) == 1:
            return items[0][1] if items[0][0] == target else None
        key = tuple(sorted(v for v, _ in items))
        if key in failed:
            return None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, ea), (b, eb) = items[i], items[j]
                rest = [items[k] for k in range(len(items)) if k not in (i, j)]
                candidates = [(a + b, f"{ea}+{eb}"), (a * b, f"({ea})*({eb})"),
                              (a - b, f"{ea}-({eb})"), (b - a, f"{eb}-({ea})")]
                if b != 0:
                    candidates.append((a / b, f"({ea})/({eb})"))
                if a != 0:
                    candidates.append((b / a, f"({eb})/({ea})"))
                for value, text in candidates:
                    found = search([*rest, (value, text)])
                    if found is not None:
                        return found
        failed.add(key)
        return None

    found = search([(Fraction(n), str(n)) for n in numbers])
    return None if found is None else _tidy(found)


def _tidy(expr: str) -> str:
    """Drop parentheses around a bare integer: '(2)*(3+4)' -> '2*(3+4)'."""
    previous = None
    while previous != expr:
        previous, expr = expr, re.sub(r"\((\d+)\)", r"\1", expr)
    return expr
