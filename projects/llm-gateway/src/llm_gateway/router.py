"""Which backend serves a request: smooth weighted round-robin, circuit breakers, retry plan.

Smooth weighted round-robin (nginx's): each pick adds every backend's weight to its running score,
takes the highest score, and subtracts the total weight from the winner. Weights 5, 1, 1 give
a a b a c a a — the same shares as plain weighted round-robin without sending five in a row to a.

A circuit breaker per backend opens after `failures` consecutive failures, stays open for
`cooldown_s`, then lets one trial request through (half-open): success closes it, failure opens it
again. An open backend is skipped by the picker, so fallback goes straight to a healthy one.

`attempt_order` is the retry plan for one request: up to `attempts` tries, each on the next
backend in smooth-WRR order whose breaker admits it, so a failing backend is followed by another
one. Nothing here does I/O; the app drives it, and the tests drive it with a fake clock.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    failures_to_open: int
    cooldown_s: float
    clock: object = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def admits(self) -> bool:
        state = self.state
        return state == "closed" or (state == "half-open" and not self.trial_in_flight)

    def on_attempt(self) -> None:
        if self.state == "half-open":
            self.trial_in_flight = True

    def on_success(self) -> None:
        self.failures, self.opened_at, self.trial_in_flight = 0, None, False

    def on_failure(self) -> None:
        self.failures += 1
        self.trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()  # (re)open: a failed trial restarts the cooldown


@dataclass
class SmoothWRR:
    weights: dict[str, int]
    current: dict[str, int] = field(default_factory=dict)

    def pick(self, allowed: set[str] | None = None) -> str | None:
        names = [n for n in self.weights if allowed is None or n in allowed]
        if not names:
            return None
        total = sum(self.weights[n] for n in names)
        for name in names:
            self.current[name] = self.current.get(name, 0) + self.weights[name]
        best = max(names, key=lambda n: self.current[n])  # ties: the earlier backend
        self.current[best] -= total
        return best


class Router:
    def __init__(self, routes: dict[str, list[str]], weights: dict[str, int], *,
                 failures_to_open: int = 3, cooldown_s: float = 10.0, attempts: int = 3,
                 backoff_s: float = 0.05, clock=time.monotonic, rng: random.Random | None = None):
        self.routes = routes
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._rng = rng or random.Random()
        self._wrr = {model: SmoothWRR({b: weights[b] for b in backends})
                     for model, backends in routes.items()}
        names = {b for backends in routes.values() for b in backends}
        self.breakers = {b: CircuitBreaker(failures_to_open, cooldown_s, clock) for b in names}

    def models(self) -> list[str]:
        return sorted(self.routes)

    def next_backend(self, model: str, exclude: set[str] = frozenset()) -> str | None:
        """The next backend for `model` whose breaker admits a request, not in `exclude`."""
        healthy = {b for b in self.routes[model]
                   if b not in exclude and self.breakers[b].admits()}
        if not healthy:  # every untried backend is open: a retry may still use a tried one
            healthy = {b for b in self.routes[model] if self.breakers[b].admits()}
        return self._wrr[model].pick(healthy)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry `attempt` (1, 2, ...): exponential with full jitter."""
        return self._rng.uniform(0, self.backoff_s * (2 ** (attempt - 1)))
