"""Each sampler stage against its Hugging Face processor / warper, the chain against HF generate
(chi-square at fixed seeds), greedy tie-breaking and hand-worked penalty examples."""

import pytest
import torch
from llm_explorer import (
    HF_ORDER,
    SamplerChain,
    SamplerConfig,
    apply_penalties,
    greedy_token,
    min_p_filter,
    top_k_filter,
    top_p_filter,
    typical_filter,
)
from scipy.stats import chi2_contingency
from transformers import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)


def random_rows(seed: int) -> torch.Tensor:
    """Rows of random logits at several sharpnesses, one with ties (rounded values)."""
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randn(1000, generator=g) * scale for scale in (0.5, 1.0, 3.0, 8.0)]
    rows.append((torch.randn(1000, generator=g) * 2).round())  # many exact ties
    return torch.stack(rows)  # (5, V)


def same_as_hf(ours, hf, rows: torch.Tensor, context: torch.Tensor | None = None):
    ctx = torch.zeros(1, 0, dtype=torch.long) if context is None else context[None]
    for row in rows:
        expected = hf(ctx, row[None].clone())[0]
        got = ours(row.clone())
        assert torch.equal(torch.isfinite(got), torch.isfinite(expected))  # identical kept set
        torch.testing.assert_close(got.softmax(-1), expected.softmax(-1), rtol=0, atol=1e-7)


@pytest.mark.parametrize("k", [1, 5, 40, 999])
def test_top_k_equals_hf(k):
    same_as_hf(lambda x: top_k_filter(x, k), TopKLogitsWarper(k), random_rows(k))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.95, 0.999])
def test_top_p_equals_hf(p):
    same_as_hf(lambda x: top_p_filter(x, p), TopPLogitsWarper(p), random_rows(int(p * 1000)))


@pytest.mark.parametrize("m", [0.01, 0.05, 0.2, 0.9])
def test_min_p_equals_hf(m):
    same_as_hf(lambda x: min_p_filter(x, m), MinPLogitsWarper(m), random_rows(int(m * 100)))


@pytest.mark.parametrize("mass", [0.2, 0.5, 0.9, 0.99])
def test_typical_equals_hf(mass):
    same_as_hf(lambda x: typical_filter(x, mass), TypicalLogitsWarper(mass),
               random_rows(int(mass * 100)))


@pytest.mark.parametrize("t", [0.3, 0.8, 1.7])
def test_temperature_equals_hf(t):
    chain = SamplerChain(SamplerConfig(temperature=t, top_k=0, top_p=1, min_p=0))
    same_as_hf(lambda x: chain.process(x, torch.zeros(0, dtype=torch.long)),
               TemperatureLogitsWarper(t), random_rows(7))


@pytest.mark.parametrize("r", [0.7, 1.3, 2.0])
def test_repetition_penalty_equals_hf(r):
    context = torch.tensor([3, 3, 10, 999, 500, 7])
    same_as_hf(lambda x: apply_penalties(x, context, repetition=r),
               RepetitionPenaltyLogitsProcessor(r), random_rows(11), context)


def test_penalties_worked_example():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    context = torch.tensor([0, 1, 1])  # token 0 once, token 1 twice
    got = apply_penalties(logits, context, repetition=2.0)
    assert got.tolist() == [1.0, -2.0, 0.5, 3.0]  # 2/2, -1*2, unseen, unseen
    got = apply_penalties(logits, context, presence=0.5, frequency=0.25)
    assert got.tolist() == [2.0 - 0.5 - 0.25, -1.0 - 0.5 - 0.5, 0.5, 3.0]


def test_top_p_worked_example():
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    kept = torch.isfinite(top_p_filter(logits, 0.75)).tolist()
    assert kept == [True, True, False]  # 0.2 <= 1 - 0.75 is dropped, 0.2 + 0.3 > 0.25 is not


def test_greedy_breaks_ties_by_lowest_id():
    assert greedy_token(torch.tensor([1.0, 3.0, 3.0, -2.0])) == 1
    chain = SamplerChain(SamplerConfig(temperature=0))
    logits = torch.tensor([0.0, 5.0, 1.0, 5.0])
    assert all(chain.next_token(logits, torch.zeros(0, dtype=torch.long), None) == 1
               for _ in range(3))


def test_chain_prints_order_and_reorders():
    cfg = SamplerConfig(top_k=20, samplers="temp,top_p,top_k")
    assert str(SamplerChain(cfg)) == "temp(0.8) -> top_p(0.95) -> top_k(20) -> sample"
    assert str(SamplerChain(SamplerConfig())).startswith("penalties(repeat=1, presence=0, "
                                                         "frequency=0):off -> top_k(40)")


def test_trace_names_what_each_stage_removed():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0])
    chain = SamplerChain(SamplerConfig(top_k=3, top_p=1.0, min_p=0.2, temperature=1.0,
                                       samplers="top_k,min_p,temp"))
    final, traces = chain.trace(logits, torch.zeros(0, dtype=torch.long))
    assert [t.removed for t in traces] == [[3, 4], [2], []]  # e^2/e^4 = 0.135 < 0.2
    assert torch.isfinite(final).tolist() == [True, True, False, False, False]


def test_seeded_sampling_reproducible():
    logits = torch.randn(500, generator=torch.Generator().manual_seed(0))
    chain = SamplerChain(SamplerConfig(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0))
    ctx = torch.zeros(0, dtype=torch.long)

    def draw(seed):
        g = torch.Generator().manual_seed(seed)
        return [chain.next_token(logits, ctx, g) for _ in range(20)]

    assert draw(5) == draw(5) and draw(5) != draw(6)


SETTINGS = [  # (our config, HF generate kwargs) with the same meaning
    (dict(temperature=0.7, top_k=6, top_p=0.9, min_p=0.0, repetition_penalty=1.3),
     dict(temperature=0.7, top_k=6, top_p=0.9, repetition_penalty=1.3)),
    (dict(temperature=1.4, top_k=0, top_p=1.0, min_p=0.1, typical_p=0.9),
     dict(temperature=1.4, top_k=0, min_p=0.1, typical_p=0.9)),
]


@pytest.mark.parametrize("ours,theirs", SETTINGS)
def test_chain_distribution_matches_hf_generate(small_vocab_model, ours, theirs):
    """Two tokens sampled 3,000 times by HF generate(do_sample=True) and by our chain (in HF's
    order, so that temperature-before-cut means the same); the joint counts over the two
    positions must be homogeneous (chi-square p > 0.01) at these fixed seeds."""
    model, n = small_vocab_model, 3000
    prompt = torch.tensor([[1, 5, 2, 5]])
    torch.manual_seed(0)
    with torch.inference_mode():
        hf = model.generate(prompt.expand(n, -1), attention_mask=torch.ones(n, 4, dtype=torch.long),
                            do_sample=True, max_new_tokens=2, **theirs)[:, 4:]  # (n, 2)
    chain = SamplerChain(SamplerConfig(seed=0, **ours), order=HF_ORDER)
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        first = model(prompt).logits[0, -1]  # (V,)
        p1 = chain.process(first, prompt[0]).softmax(-1)  # (V,)
        firsts = torch.multinomial(p1, n, replacement=True, generator=g)  # (n,)
        ours_ids = []
        for a in firsts.unique().tolist():  # the second step depends on the first id only
            ctx = torch.cat([prompt[0], torch.tensor([a])])
            p2 = chain.process(model(ctx[None]).logits[0, -1], ctx).softmax(-1)  # (V,)
            count = int((firsts == a).sum())
            seconds = torch.multinomial(p2, count, replacement=True, generator=g)
            ours_ids += [(a, b) for b in seconds.tolist()]
    V = model.config.vocab_size
    hf_pairs = (hf[:, 0] * V + hf[:, 1]).tolist()
    ours_pairs = [a * V + b for a, b in ours_ids]
    cells = sorted(set(hf_pairs) | set(ours_pairs))
    table = [[hf_pairs.count(c) for c in cells], [ours_pairs.count(c) for c in cells]]
    # merge rare cells so every expected count is >= 5 (the test's validity condition)
    big = [i for i, c in enumerate(cells) if table[0][i] + table[1][i] >= 10]
    rest = [sum(row[i] for i in range(len(cells)) if i not in big) for row in table]
    table = [[row[i] for i in big] + ([extra] if sum(rest) >= 10 else [])
             for row, extra in zip(table, rest, strict=True)]
    assert len(big) >= 4  # the settings leave a real choice, not a near-deterministic token
    assert chi2_contingency(table).pvalue > 0.01
