"""Acceptance rules: given the target's distributions at the tree nodes, which draft tokens stay.

- `accept_greedy`: the longest path matching the target's argmax; the next token is the argmax
  after it. Output equals plain greedy decoding token for token (tests/test_exactness.py).
- `accept_speculative`: the rejection rule of speculative sampling (Leviathan et al. 2023, Chen et
  al. 2023) on a chain: keep d_i with probability min(1, p(d_i) / q(d_i)); on the first rejection
  draw from the residual norm(max(0, p - q)); if all are kept, draw the bonus token from p. The
  emitted tokens then follow the target distribution exactly (tests/test_sampling.py checks it
  with a chi-square test). A deterministic proposal (n-gram) is q = one-hot.
- `accept_typical`: Medusa's typical acceptance: keep x if p(x) > min(eps, delta * exp(-H(p))),
  take the longest such path, sample the next token from p. NOT exact: it trades the target
  distribution for longer accepted runs (documented in the README).

Each returns (path node indices, next token). Leaves out tree-shaped speculative sampling
(SpecInfer's multi-draft rule): sampling with a tree falls back to typical acceptance.
"""

from __future__ import annotations

import torch

from .tree import DraftTree, greedy_path


def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """(T, V) logits -> (T, V) float32 probabilities at `temperature` (> 0)."""
    return torch.softmax(logits.float() / temperature, dim=-1)


def accept_greedy(tree: DraftTree, logits: torch.Tensor) -> tuple[list[int], int]:
    target_next = logits.argmax(dim=-1).tolist()  # (T,) the target's choice after each node
    path = greedy_path(tree, target_next)
    return path, int(target_next[path[-1]])


def accept_speculative(tree: DraftTree, p: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[list[int], int]:
    """p: (T, V) target probabilities at each chain node; tree.probs[i]: draft q for node i."""
    if not tree.is_chain:
        raise ValueError("speculative sampling needs a chain; use typical acceptance for trees")
    path = [0]
    for i in range(1, len(tree)):
        x = tree.tokens[i]
        q_i = tree.probs[i] if i < len(tree.probs) else None
        p_x = float(p[i - 1, x])
        q_x = 1.0 if q_i is None else float(q_i[x])
        u = float(torch.rand((), generator=generator))
        if q_x > 0 and u < min(1.0, p_x / q_x):
            path.append(i)
            continue
        # Rejected: draw from the residual max(0, p - q), renormalised.
        q_full = torch.zeros_like(p[i - 1])
        if q_i is None:
            q_full[x] = 1.0
        else:
            q_full = q_i.float()
        residual = (p[i - 1] - q_full).clamp(min=0)  # (V,)
        total = residual.sum()
        if total <= 0:  # p == q exactly: any draw from p is right
            residual, total = p[i - 1], p[i - 1].sum()
        return path, int(torch.multinomial(residual / total, 1, generator=generator))
    return path, int(torch.multinomial(p[path[-1]], 1, generator=generator))


def accept_typical(tree: DraftTree, p: torch.Tensor, *, epsilon: float = 0.09,
                   delta: float = 0.3,
                   generator: torch.Generator | None = None) -> tuple[list[int], int]:
    """Medusa's typical acceptance; the defaults are FasterDecoding/Medusa's posterior_threshold
    (0.09) and posterior_alpha (0.3): keep x after node i if p_i(x) > min(eps, delta*e^-H(p_i))."""
    entropy = -(p * torch.log(p.clamp(min=1e-10))).sum(-1)  # (T,)
    threshold = torch.minimum(torch.full_like(entropy, epsilon), delta * torch.exp(-entropy))
    kids = tree.children()
    best = [0]

    def walk(node: int, path: list[int]) -> None:
        nonlocal best
        if len(path) > len(best):
            best = list(path)
        for c in kids[node]:
            if float(p[node, tree.tokens[c]]) > float(threshold[node]):
                walk(c, path + [c])

    walk(0, [0])
    return best, int(torch.multinomial(p[best[-1]], 1, generator=generator))
