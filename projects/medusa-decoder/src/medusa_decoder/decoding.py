"""The speculative decoding loop: propose a tree, verify it in one target forward, accept, repeat.

    root <- target's choice after the prompt                     (prefill: 1 forward)
    loop: tree  = proposer.propose(ids ending in root, hidden)   (root + candidates)
          logits = target(tree) with tree attention              (1 forward)
          path, next = acceptance rule(tree, logits)
          cache keeps the path; ids += path tokens after the root + next; root <- next

Each forward emits len(path) tokens (the accepted candidates plus the target's own next token),
so `accepted_lengths` are >= 1 and plain decoding (`NoProposer`) has exactly 1 per forward.
`mode`: "greedy" (exact: same tokens as plain greedy), "sample" (speculative sampling, exact in
distribution; chains only) or "typical" (Medusa's typical acceptance, not exact).
Stops after `max_new_tokens` or at the first EOS, exactly where plain decoding would.
Exercised by `medusa-decoder generate --method ... --json`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from llm_shared import UserError

from .acceptance import accept_greedy, accept_speculative, accept_typical, probabilities
from .kv import make_runner
from .proposers import Proposer
from .tree import DraftTree

MODES = ("greedy", "sample", "typical")


@dataclass
class GenerationResult:
    tokens: list[int]  # generated ids (prompt excluded)
    accepted_lengths: list[int] = field(default_factory=list)  # tokens emitted per verify forward
    forwards: int = 0  # target forwards, prefill included
    seconds: float = 0.0
    proposed: int = 0  # candidate nodes sent to the target, roots excluded

    @property
    def mean_accepted(self) -> float:
        return sum(self.accepted_lengths) / max(len(self.accepted_lengths), 1)

    @property
    def tokens_per_second(self) -> float:
        return len(self.tokens) / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean_accepted": round(self.mean_accepted, 4),
                "tokens_per_second": round(self.tokens_per_second, 3)}


def _eos_ids(model: Any, eos: int | list[int] | None) -> set[int]:
    if eos is None:
        eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        return set()
    return {eos} if isinstance(eos, int) else set(eos)


@torch.inference_mode()
def generate(model: Any, proposer: Proposer, prompt: list[int], *, max_new_tokens: int = 64,
             mode: str = "greedy", temperature: float = 0.0, eos: int | list[int] | None = None,
             generator: torch.Generator | None = None, typical_epsilon: float = 0.09,
             typical_delta: float = 0.3) -> GenerationResult:
    """Decode `max_new_tokens` after `prompt` with `proposer`; see the module docstring.
    `model`: a `LeanLlama` (lean engine) or a Hugging Face causal LM (its own cache code)."""
    if temperature < 0:
        raise UserError(f"--temperature must be >= 0 (got {temperature}); 0 means greedy")
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    if max_new_tokens < 1:
        raise UserError(f"--max-tokens must be >= 1 (got {max_new_tokens})")
    if mode == "greedy" or temperature == 0:
        mode, temperature = "greedy", 0.0
    stop = _eos_ids(model, eos)
    start = time.perf_counter()
    proposer.reset()
    runner = make_runner(model)
    logits, hidden = runner.prefill(prompt)
    if mode == "greedy":
        root = int(logits.argmax())
    else:
        root = int(torch.multinomial(probabilities(logits[None], temperature)[0], 1,
                                     generator=generator))
    out = [root]
    result = GenerationResult(tokens=out)
    while len(out) < max_new_tokens and out[-1] not in stop:
        tree: DraftTree = proposer.propose(list(prompt) + out, hidden, temperature=temperature,
                                           generator=generator)
        result.proposed += len(tree) - 1
        logits, hiddens = runner.verify(tree)  # (T, V), (T, C)
        if mode == "greedy":
            path, root = accept_greedy(tree, logits)
        elif mode == "sample" and tree.is_chain:
            path, root = accept_speculative(tree, probabilities(logits, temperature), generator)
        else:
            path, root = accept_typical(tree, probabilities(logits, temperature),
                                        epsilon=typical_epsilon, delta=typical_delta,
                                        generator=generator)
        runner.keep(path)
        hidden = hiddens[path[-1]]  # (C,) the state that chose the new root
        emitted = [tree.tokens[i] for i in path[1:]] + [root]
        result.accepted_lengths.append(len(emitted))
        out.extend(emitted)
    # Trim to the budget and to the first EOS: exactly what plain decoding would have emitted.
    for i, token in enumerate(out):
        if token in stop:
            del out[i + 1:]
            break
    del out[max_new_tokens:]
    result.forwards = runner.forwards
    result.seconds = time.perf_counter() - start
    return result
