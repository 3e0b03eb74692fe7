"""Reasoning strategies on one task/checker API, each reporting the compute it spent.

- `direct`: greedy, asked for the answer at once.  `cot`: greedy, asked to think step by step.
- `self-consistency` (Wang et al. 2022): `budget` CoT samples, majority vote over the checker's
  extracted answers (exact values for numbers, so `0.5` and `1/2` vote together); the chosen
  completion is the first sample with the winning answer; unparseable samples do not vote.
- `best-of-n` with the oracle verifier: `budget` samples, the first one the checker calls correct
  (an upper bound for any learned verifier: it is pass@N).
- `solver`: the exact Countdown solver, no model.
Compute: generated tokens summed over samples and model forward passes (one batched decode step is
one pass). Leaves out beam search, MCTS, the ORM and PRM verifiers: `run_strategy` refuses them with
a one-line error rather than running something else under their name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from llm_shared import UserError

from .checker import Verdict, answer_key, check, extract_span
from .config import IMPLEMENTED
from .sampler import sample
from .solver import solve_countdown
from .tasks import prompt_messages


@dataclass
class Outcome:
    completion: str | None
    verdict: Verdict
    tokens: int  # generated tokens, all samples together
    forward_passes: int
    samples: int
    correct_samples: int = 0  # samples the checker calls correct (best-of-n's oracle sees these)

    def to_json(self, problem_id: Any) -> dict[str, Any]:
        return {"id": problem_id, "completion": self.completion, "verdict": self.verdict.status,
                "tokens": self.tokens, "forward_passes": self.forward_passes}


def majority_vote(task: str, texts: list[str]) -> int:
    """Index of the chosen sample: first sample whose answer key won the vote (ties: the key seen
    first); 0 when no sample parses. ['<answer>1/2</answer>', '<answer>3</answer>',
    '<answer>0.5</answer>'] -> 0 (1/2 has two votes)."""
    keys = [answer_key(task, extract_span(t)) for t in texts]
    votes = Counter(k for k in keys if k is not None)
    if not votes:
        return 0
    best = max(votes.values())
    winner = next(k for k in keys if k is not None and votes[k] == best)
    return keys.index(winner)


def run_strategy(strategy: str, task: str, problem: dict[str, Any], *, model: Any = None,
                 tokenizer: Any = None, budget: int = 4, max_new_tokens: int = 128,
                 temperature: float = 0.7, seed: int = 0) -> Outcome:
    """Solve one problem with `strategy`; the verdict is always the checker's."""
    if strategy not in IMPLEMENTED:
        raise UserError(f"strategy '{strategy}' is not implemented in this version; use one of "
                        + ", ".join(IMPLEMENTED))
    if strategy == "solver":
        if task != "countdown":
            raise UserError(f"--strategy solver solves countdown only (got --task {task})")
        expr = solve_countdown(problem["numbers"], problem["target"])
        completion = None if expr is None else f"<answer>{expr}</answer>"
        return Outcome(completion, check(task, problem, completion or ""), 0, 0, 0)
    greedy = strategy in ("direct", "cot")
    prompt = prompt_messages(task, problem, cot=strategy != "direct")
    out = sample(model, tokenizer, prompt, 1 if greedy else budget,
                 max_new_tokens=max_new_tokens, temperature=0.0 if greedy else temperature,
                 seed=seed)
    verdicts = [check(task, problem, t) for t in out.texts]
    if strategy == "self-consistency":
        chosen = majority_vote(task, out.texts)
    elif strategy == "best-of-n":
        chosen = next((i for i, v in enumerate(verdicts) if v.status == "correct"), 0)
    else:
        chosen = 0
    return Outcome(out.texts[chosen], verdicts[chosen], out.tokens, out.forward_passes,
                   len(out.texts), sum(v.status == "correct" for v in verdicts))
