"""The chapter demo: the checker's table, the Countdown solver, then CoT vs self-consistency.

Run: `uv run mcts-reasoner demo`. Prints each part for a person; the CLI prints the figures as the
last line (one JSON object). Leaves out MCTS (not implemented in this version), so the JSON has no
`accuracy_mcts`/`tokens_mcts`; the oracle best-of-N figure reuses the self-consistency samples
(same seed, same samples), so it costs no extra compute.
"""

from __future__ import annotations

import time
from typing import Any

from llm_shared import load_causal_lm, torch_threads

from .checker import check
from .config import DemoConfig
from .solver import solve_countdown
from .strategies import run_strategy
from .tasks import generate

# (task, problem, completion, expected verdict): each expectation worked out by hand from the rules.
_N = {"question": "q", "answer": "3/4"}
_C = {"numbers": [2, 3, 4], "target": 20}
CASES = [
    ("arithmetic", _N, "so <answer>0.75</answer>", "correct"),
    ("arithmetic", _N, "\\boxed{\\frac{3}{4}}", "correct"),
    ("arithmetic", _N, "<answer>$0.75$.</answer>", "correct"),
    ("arithmetic", _N, "<answer>1</answer> no, <answer>6/8</answer>", "correct"),
    ("arithmetic", _N, "<answer>0.7500001</answer>", "wrong"),
    ("arithmetic", _N, "the answer is 0.75", "parse_failure"),
    ("arithmetic", _N, "<answer>0.75 cups</answer>", "parse_failure"),
    ("arithmetic", _N, "<answer>3/0</answer>", "parse_failure"),
    ("arithmetic", {"question": "q", "answer": "n/a"}, "<answer>1</answer>", "invalid_gold"),
    ("countdown", _C, "<answer>(2 + 3) × 4 = 20</answer>", "correct"),
    ("countdown", _C, "<answer>(2 + 3) * 4 = 21</answer>", "wrong"),
    ("countdown", _C, "<answer>5 * 4</answer>", "wrong"),
    ("countdown", _C, "<answer>4 * -(-2 - 3)</answer>", "parse_failure"),
    ("countdown", _C, "<answer>2 ^ 3 + 4</answer>", "parse_failure"),
]


def _line(text: str) -> None:
    print(text, flush=True)


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    _line("== checker table ==")
    passed = 0
    for task, problem, completion, expected in CASES:
        got = check(task, problem, completion).status
        passed += got == expected
        _line(f"  {'ok ' if got == expected else 'BAD'} {got:<14} {completion}")
    _line(f"  {passed}/{len(CASES)} as expected")

    _line("== exact Countdown solver, checked by the checker ==")
    solved = 0
    countdown = generate("countdown", 5, seed=0)
    for problem in countdown:
        expr = solve_countdown(problem["numbers"], problem["target"])
        ok = check("countdown", problem, f"<answer>{expr}</answer>").status == "correct"
        solved += ok
        mark = "correct" if ok else "X"
        _line(f"  {problem['numbers']} -> {problem['target']}: {expr}  [{mark}]")

    _line(f"== CoT (greedy) vs self-consistency ({config.budget} samples) on "
          f"{config.problems} arithmetic problems, {config.model} ==")
    torch_threads(config.threads)
    model, tokenizer = load_causal_lm(config.model, device=config.device)
    totals = {s: {"correct": 0, "tokens": 0, "forward_passes": 0}
              for s in ("cot", "self-consistency")}
    oracle = 0  # problems where at least one self-consistency sample is correct (pass@N)
    for problem in generate("arithmetic", config.problems, seed=0):
        shown = []
        for strategy in totals:
            out = run_strategy(strategy, "arithmetic", problem, model=model, tokenizer=tokenizer,
                               budget=config.budget, max_new_tokens=config.max_new_tokens,
                               temperature=config.temperature, seed=0)
            totals[strategy]["correct"] += out.verdict.status == "correct"
            totals[strategy]["tokens"] += out.tokens
            totals[strategy]["forward_passes"] += out.forward_passes
            if strategy == "self-consistency":
                oracle += out.correct_samples > 0
            shown.append(f"{strategy}={out.verdict.extracted!r}({out.verdict.status})")
        _line(f"  {problem['question']} gold {problem['answer']}: " + "  ".join(shown))
    n = config.problems
    cot, sc = totals["cot"], totals["self-consistency"]
    _line(f"  cot: {cot['correct']}/{n} correct, {cot['tokens']} tokens, "
          f"{cot['forward_passes']} forward passes")
    _line(f"  self-consistency: {sc['correct']}/{n} correct, {sc['tokens']} tokens, "
          f"{sc['forward_passes']} forward passes")
    _line(f"  best-of-{config.budget} with the oracle over the same samples: {oracle}/{n} correct")
    return {"checker_passed": passed, "checker_cases": len(CASES),
            "solver_correct": solved, "solver_cases": len(countdown),
            "accuracy_cot": round(cot["correct"] / n, 4),
            "accuracy_sc": round(sc["correct"] / n, 4),
            "accuracy_best_of_n_oracle": round(oracle / n, 4),
            "tokens_cot": cot["tokens"], "tokens_sc": sc["tokens"],
            "forward_passes_cot": cot["forward_passes"],
            "forward_passes_sc": sc["forward_passes"],
            "seconds": round(time.perf_counter() - start, 2)}
