"""The sampler chain: small stages over one row of logits, in an explicit, printable order.

Each stage takes logits (V,) and the context ids and returns new logits; a removed token gets
-inf, so "which stage removed what" is a comparison of finite masks. The math of each filter is
the same as its Hugging Face logits processor / warper (same sort direction, same `<` vs `<=`,
same tie rules), so the kept sets and probabilities are identical (tests/test_samplers.py):

    penalties  RepetitionPenaltyLogitsProcessor (+ OpenAI-style presence / frequency penalties)
    top_k      TopKLogitsWarper      keeps every token tied with the k-th logit
    top_p      TopPLogitsWarper      drops the low tail whose cumulative mass is <= 1 - p
    min_p      MinPLogitsWarper      drops p_i < min_p * p_max
    typical    TypicalLogitsWarper   keeps tokens whose surprise is closest to the entropy
    temp       TemperatureLogitsWarper

The default order is llama.cpp's (cut the candidate set first, then reshape it with the
temperature); HF applies the temperature second. `SamplerChain.from_config(cfg, order=HF_ORDER)`
reproduces HF's. Temperature 0 is greedy: penalties still apply, the truncation stages are
skipped (only typical could change the argmax), and the argmax breaks ties by the lowest id.
Leaves out DRY, XTC, mirostat and top-n-sigma.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .config import SamplerConfig

HF_ORDER = "penalties,temp,top_k,top_p,min_p,typical"
NEG_INF = float("-inf")


def apply_penalties(logits: torch.Tensor, context: torch.Tensor, repetition: float = 1.0,
                    presence: float = 0.0, frequency: float = 0.0) -> torch.Tensor:
    """Penalise tokens already in `context` (prompt + generated ids, as HF does).

    Repetition (CTRL paper): seen logits l -> l / r if l > 0 else l * r, once per token.
    Presence / frequency (OpenAI): l -> l - presence * [count > 0] - frequency * count.
    """
    if context.numel() == 0 or (repetition == 1.0 and presence == 0.0 and frequency == 0.0):
        return logits
    counts = torch.bincount(context, minlength=logits.shape[-1])[: logits.shape[-1]]  # (V,)
    seen = counts > 0  # (V,)
    out = logits
    if repetition != 1.0:
        penalised = torch.where(logits < 0, logits * repetition, logits / repetition)  # (V,)
        out = torch.where(seen, penalised, out)
    if presence != 0.0 or frequency != 0.0:
        out = out - presence * seen.to(out.dtype) - frequency * counts.to(out.dtype)
    return out


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep logits >= the k-th largest (ties at the boundary survive, as in HF)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k).values[-1]
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus: sort ascending, drop the prefix whose cumulative mass is <= 1 - p; the most
    likely token always survives. [0.5, 0.3, 0.2] with p=0.75 -> keeps 0.5 and 0.3."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=False)  # (V,), (V,)
    cumulative = sorted_logits.softmax(-1).cumsum(-1)  # (V,)
    drop_sorted = cumulative <= (1 - p)
    drop_sorted[-1] = False
    drop = drop_sorted.scatter(0, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, NEG_INF)


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Drop tokens with probability < min_p x the top probability (the top one always stays)."""
    if min_p <= 0.0:
        return logits
    probs = logits.softmax(-1)  # (V,)
    drop = probs < min_p * probs.max()
    drop[probs.argmax()] = False
    return logits.masked_fill(drop, NEG_INF)


def typical_filter(logits: torch.Tensor, mass: float) -> torch.Tensor:
    """Locally typical sampling (Meister et al. 2022): rank tokens by |surprise - entropy|,
    keep the closest ones until their mass reaches `mass`."""
    if mass >= 1.0:
        return logits
    logp = torch.log_softmax(logits, -1)  # (V,)
    entropy = -(logp * logp.exp()).nansum()
    distance = (-logp - entropy).abs()  # (V,)
    sorted_distance, order = torch.sort(distance, descending=False)
    cumulative = logits[order].softmax(-1).cumsum(-1)  # (V,)
    last = min(int((cumulative < mass).sum()), logits.shape[-1] - 1)
    drop_sorted = sorted_distance > sorted_distance[last]
    drop_sorted[0] = False
    drop = drop_sorted.scatter(0, order, drop_sorted)
    return logits.masked_fill(drop, NEG_INF)


def greedy_token(logits: torch.Tensor) -> int:
    """Argmax with ties broken by the lowest id: [1, 3, 3] -> 1."""
    return int((logits == logits.max()).nonzero()[0, 0])


@dataclass
class StageTrace:
    """What one stage did: which ids it removed, and how many stayed."""

    name: str
    active: bool
    removed: list[int]
    kept: int


class SamplerChain:
    """An ordered list of named stages; `print(chain)` shows the order and each setting."""

    def __init__(self, config: SamplerConfig, order: str | None = None) -> None:
        self.config = config
        self.order = [n for n in (order or config.samplers).split(",") if n]
        c = config
        self._stages: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], bool,
                                      str]] = {
            "penalties": (lambda x, ctx: apply_penalties(x, ctx, c.repetition_penalty,
                                                         c.presence_penalty, c.frequency_penalty),
                          c.repetition_penalty != 1 or c.presence_penalty != 0
                          or c.frequency_penalty != 0,
                          f"penalties(repeat={c.repetition_penalty:g}, "
                          f"presence={c.presence_penalty:g}, frequency={c.frequency_penalty:g})"),
            "top_k": (lambda x, ctx: top_k_filter(x, c.top_k), c.top_k > 0, f"top_k({c.top_k})"),
            "top_p": (lambda x, ctx: top_p_filter(x, c.top_p), c.top_p < 1, f"top_p({c.top_p:g})"),
            "min_p": (lambda x, ctx: min_p_filter(x, c.min_p), c.min_p > 0, f"min_p({c.min_p:g})"),
            "typical": (lambda x, ctx: typical_filter(x, c.typical_p), c.typical_p < 1,
                        f"typical({c.typical_p:g})"),
            "temp": (lambda x, ctx: x / c.temperature if c.temperature > 0 else x,
                     c.temperature != 1, f"temp({c.temperature:g})"),
        }

    @property
    def greedy(self) -> bool:
        return self.config.temperature == 0

    def __str__(self) -> str:
        parts = []
        for name in self.order:
            fn, active, label = self._stages[name]
            if self.greedy and name not in ("penalties", "temp"):
                active = False
            parts.append(label if active else f"{label}:off")
        return " -> ".join(parts + ["argmax" if self.greedy else "sample"])

    def _run(self, name: str) -> bool:
        _, active, _ = self._stages[name]
        if self.greedy:  # greedy ignores the truncation stages
            return active and name == "penalties"
        return active

    def process(self, logits: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Final logits (V,) after every active stage; removed tokens are -inf."""
        logits = logits.float()
        for name in self.order:
            if self._run(name):
                logits = self._stages[name][0](logits, context)
        return logits

    def trace(self, logits: torch.Tensor, context: torch.Tensor
              ) -> tuple[torch.Tensor, list[StageTrace]]:
        """Like `process`, also recording the ids each stage removed (for the inspector)."""
        logits = logits.float()
        traces = []
        for name in self.order:
            before = torch.isfinite(logits)
            if self._run(name):
                logits = self._stages[name][0](logits, context)
            after = torch.isfinite(logits)
            removed = (before & ~after).nonzero().flatten().tolist()
            traces.append(StageTrace(name, self._run(name), removed, int(after.sum())))
        return logits, traces

    def choose(self, logits: torch.Tensor, generator: torch.Generator | None) -> int:
        """Pick the next id from processed logits: argmax when greedy, else one draw."""
        if self.greedy:
            return greedy_token(logits)
        probs = logits.softmax(-1)  # (V,)
        return int(torch.multinomial(probs, 1, generator=generator))

    def next_token(self, logits: torch.Tensor, context: torch.Tensor,
                   generator: torch.Generator | None) -> int:
        return self.choose(self.process(logits, context), generator)
