"""Speculative sampling follows the target distribution: chi-square tests on a 3-token model.

The exact distribution of the first three sampled tokens is enumerated from the target (27
sequences); samples come from our loop with a different random draft proposing 2 tokens/step.
Categories expected fewer than 5 times are pooled (the chi-square approximation needs it).
A power check shows the same test would reject the draft's own distribution."""

import itertools
import math

import torch
from medusa_decoder.acceptance import accept_speculative, accept_typical
from medusa_decoder.decoding import generate
from medusa_decoder.proposers import DraftModelProposer
from medusa_decoder.tree import DraftTree

PROMPT = [0, 1, 2]
VOCAB = 3
N_NEW = 3


def chi2_critical(df: int, z: float = 3.09) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.09: the 99.9% point)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def exact_distribution(model) -> dict[tuple[int, ...], float]:
    seqs = list(itertools.product(range(VOCAB), repeat=N_NEW))
    ids = torch.tensor([PROMPT + list(s) for s in seqs])  # (64, 6)
    with torch.inference_mode():
        logp = torch.log_softmax(model(ids).logits.float(), dim=-1)  # (64, 6, V)
    out = {}
    for row, s in enumerate(seqs):
        out[s] = math.exp(sum(float(logp[row, len(PROMPT) - 1 + i, t]) for i, t in enumerate(s)))
    return out


def chi2(counts: dict, expected: dict, n: int) -> tuple[float, int]:
    """(statistic, degrees of freedom) with categories under 5 expected counts pooled."""
    big = [s for s, p in expected.items() if n * p >= 5]
    small_p = sum(p for s, p in expected.items() if n * p < 5)
    stat = sum((counts.get(s, 0) - n * expected[s]) ** 2 / (n * expected[s]) for s in big)
    cells = len(big)
    if small_p > 0:
        small_count = sum(c for s, c in counts.items() if s not in big)
        stat += (small_count - n * small_p) ** 2 / (n * small_p)
        cells += 1
    return stat, cells - 1


def test_speculative_sampling_matches_target_distribution(small_vocab_llama):
    target, draft = small_vocab_llama(seed=1, vocab=VOCAB), small_vocab_llama(seed=2, vocab=VOCAB)
    p = exact_distribution(target)
    q = exact_distribution(draft)
    proposer = DraftModelProposer(draft, num_tokens=2)
    gen = torch.Generator().manual_seed(0)
    n = 1500
    counts: dict[tuple[int, ...], int] = {}
    accepted = []
    for _ in range(n):
        res = generate(target, proposer, PROMPT, max_new_tokens=N_NEW, mode="sample",
                       temperature=1.0, eos=[], generator=gen)
        key = tuple(res.tokens)
        counts[key] = counts.get(key, 0) + 1
        accepted.extend(res.accepted_lengths)
    stat, df = chi2(counts, p, n)
    assert stat < chi2_critical(df)
    # Power: the draft's own distribution would be rejected by the same test at this n.
    expected_stat_under_q = n * sum((q[s] - p[s]) ** 2 / p[s] for s in p) + len(p) - 1
    assert expected_stat_under_q > 2 * chi2_critical(df)
    assert max(accepted) >= 2  # drafts were really accepted, not only resampled


def test_rejection_rule_with_deterministic_draft_gives_p():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(2, 5) * 2, dim=-1)  # (T=2, V=5) target at root and after d1
    tree = DraftTree.chain([0, 3])  # n-gram style: q = one-hot on token 3
    gen = torch.Generator().manual_seed(1)
    n = 8000
    counts = torch.zeros(5)
    for _ in range(n):
        path, nxt = accept_speculative(tree, p, gen)
        counts[3 if len(path) == 2 else nxt] += 1
    expected = p[0] * n
    stat = float(((counts - expected) ** 2 / expected).sum())
    assert stat < chi2_critical(4)


def test_typical_acceptance_at_low_entropy_is_greedy_like():
    p = torch.tensor([[0.97, 0.01, 0.01, 0.01], [0.01, 0.97, 0.01, 0.01]])
    tree = DraftTree.chain([0, 0])
    path, _ = accept_typical(tree, p, generator=torch.Generator().manual_seed(0))
    assert path == [0, 1]
    tree = DraftTree.chain([0, 2])  # p(2) = 0.01 is below the threshold: rejected
    path, _ = accept_typical(tree, p, generator=torch.Generator().manual_seed(0))
    assert path == [0]
