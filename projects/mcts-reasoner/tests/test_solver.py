"""The exact Countdown solver against an independent brute force, and the checker against both."""

import itertools
import random
from fractions import Fraction

import pytest
from mcts_reasoner.checker import check
from mcts_reasoner.solver import solve_countdown
from mcts_reasoner.tasks import generate


def _all_values(nums):
    """Every value of every expression tree over the sequence `nums` in this order (brute force)."""
    if len(nums) == 1:
        return {Fraction(nums[0])}
    out = set()
    for cut in range(1, len(nums)):
        for a in _all_values(nums[:cut]):
            for b in _all_values(nums[cut:]):
                out |= {a + b, a - b, a * b}
                if b != 0:
                    out.add(a / b)
    return out


def _reachable(numbers):
    return set().union(*(_all_values(p) for p in itertools.permutations(numbers)))


def test_solver_finds_exactly_the_reachable_targets():
    rng = random.Random(0)
    for _ in range(12):
        numbers = [rng.randint(1, 9) for _ in range(3)]
        reachable = _reachable(numbers)
        for target in range(0, 40):
            expr = solve_countdown(numbers, target)
            assert (expr is not None) == (Fraction(target) in reachable), (numbers, target)
            if expr is not None:  # and the checker accepts every expression the solver writes
                verdict = check("countdown", {"numbers": numbers, "target": target},
                                f"<answer>{expr}</answer>")
                assert verdict.status == "correct", (numbers, target, expr)


def test_solver_classic_cases():
    assert check("countdown", {"numbers": [8, 3, 8, 3], "target": 24},
                 f"<answer>{solve_countdown([8, 3, 8, 3], 24)}</answer>").status == "correct"
    assert solve_countdown([1, 1, 1], 10) is None
    five = [25, 50, 75, 3, 6]
    assert check("countdown", {"numbers": five, "target": 317},
                 f"<answer>{solve_countdown(five, 317)}</answer>").status == "correct"
    with pytest.raises(ValueError):
        solve_countdown([1] * 7, 7)


@pytest.mark.slow
def test_solver_six_numbers():
    six = [25, 50, 75, 100, 3, 6]
    assert check("countdown", {"numbers": six, "target": 952},
                 f"<answer>{solve_countdown(six, 952)}</answer>").status == "correct"


def test_generated_countdown_is_always_solvable_and_seeded():
    problems = generate("countdown", 20, seed=3)
    assert problems == generate("countdown", 20, seed=3)
    assert problems != generate("countdown", 20, seed=4)
    for p in problems:
        expr = solve_countdown(p["numbers"], p["target"])
        assert check("countdown", p, f"<answer>{expr}</answer>").status == "correct"


@pytest.mark.parametrize("task", ["arithmetic", "word", "logic"])
def test_generated_numeric_golds_match_the_question(task):
    for p in generate(task, 10, seed=1):
        assert check(task, p, f"<answer>{p['answer']}</answer>").status == "correct"
    q = generate("arithmetic", 1, seed=5)[0]["question"]  # "What is EXPR?": recompute by hand
    expr = q.removeprefix("What is ").removesuffix("?")
    a = generate("arithmetic", 1, seed=5)[0]["answer"]
    assert int(a) == _eval_int(expr)


def _eval_int(expr):
    toks = expr.replace("(", " ( ").replace(")", " ) ").split()
    # the three templates: (a + b) * c, a * c - b, a + b * c
    if toks[0] == "(":
        return (int(toks[1]) + int(toks[3])) * int(toks[6])
    if toks[1] == "*":
        return int(toks[0]) * int(toks[2]) - int(toks[4])
    return int(toks[0]) + int(toks[2]) * int(toks[4])
