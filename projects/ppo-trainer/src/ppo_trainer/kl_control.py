"""The KL coefficient beta of PPO-RLHF: fixed, or adapted towards a target KL (Ziegler et al. 2019).

Adaptive rule: e = clip(KL / target - 1, -0.2, 0.2); beta <- beta * (1 + e * n_steps / horizon),
where n_steps is the number of sequences in the batch that produced KL. Plain Python, no tensors,
so it is tested without a model (tests/test_losses.py). Leaves out PI controllers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FixedKLController:
    value: float

    def update(self, current_kl: float, n_steps: int) -> None:
        """A fixed coefficient ignores the measured KL."""


@dataclass
class AdaptiveKLController:
    value: float
    target: float
    horizon: int

    def update(self, current_kl: float, n_steps: int) -> None:
        """KL above target raises beta, below lowers it; the step is at most 20% per horizon.
        beta 0.1, target 6, KL 12, 256 of 10000: e = 0.2 -> beta 0.1 * 1.00512."""
        error = min(max(current_kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * n_steps / self.horizon


def make_kl_controller(init: float, adaptive: bool, target: float,
                       horizon: int) -> FixedKLController | AdaptiveKLController:
    if adaptive:
        return AdaptiveKLController(init, target, horizon)
    return FixedKLController(init)
