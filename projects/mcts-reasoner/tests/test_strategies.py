"""Strategy logic with a scripted sampler (votes, oracle choice, compute sums) and on tiny-llama."""

import pytest
from llm_shared import UserError
from mcts_reasoner import strategies
from mcts_reasoner.sampler import Samples
from mcts_reasoner.strategies import majority_vote, run_strategy

P = {"question": "What is 1/2?", "answer": "0.5"}


def _scripted(texts):
    def fake(model, tokenizer, messages, n, **kwargs):
        assert n == len(texts)
        return Samples(texts=texts, ids=[[0]] * n, new_tokens=[5, 6, 7, 8][:n],
                       logprobs=[0.0] * n, forward_passes=9, prompt_tokens=3)
    return fake


def test_majority_vote_groups_equal_values_and_skips_parse_failures():
    texts = ["<answer>3</answer>", "<answer>1/2</answer>", "junk", "<answer>0.50</answer>"]
    assert majority_vote("arithmetic", texts) == 1
    assert majority_vote("arithmetic", ["<answer>2</answer>", "<answer>3</answer>"]) == 0
    assert majority_vote("arithmetic", ["junk", "none"]) == 0
    assert majority_vote("countdown", ["<answer>2*3</answer>", "<answer>3*2</answer>",
                                       "<answer>3 * 2</answer>"]) == 1


def test_self_consistency_and_best_of_n_choices(monkeypatch):
    texts = ["<answer>7</answer>", "<answer>7</answer>", "<answer>1/2</answer>", "x"]
    monkeypatch.setattr(strategies, "sample", _scripted(texts))
    sc = run_strategy("self-consistency", "arithmetic", P, budget=4)
    assert (sc.completion, sc.verdict.status, sc.tokens, sc.forward_passes) == (
        texts[0], "wrong", 26, 9)
    best = run_strategy("best-of-n", "arithmetic", P, budget=4)
    assert (best.completion, best.verdict.status) == (texts[2], "correct")
    assert best.correct_samples == sc.correct_samples == 1


def test_unimplemented_strategies_are_refused():
    for name in ("beam", "mcts"):
        with pytest.raises(UserError, match="not implemented"):
            run_strategy(name, "arithmetic", P)
    with pytest.raises(UserError, match="countdown only"):
        run_strategy("solver", "arithmetic", P)


def test_every_model_strategy_runs_on_every_task(tiny_model):
    from mcts_reasoner.tasks import generate

    model, tokenizer = tiny_model
    for task in ("arithmetic", "word", "logic", "countdown"):
        problem = generate(task, 1, seed=0)[0]
        for name, n in (("direct", 1), ("cot", 1), ("self-consistency", 3), ("best-of-n", 3)):
            out = run_strategy(name, task, problem, model=model, tokenizer=tokenizer, budget=3,
                               max_new_tokens=5, temperature=1.0)
            assert out.samples == n and out.tokens == 5 * n and out.forward_passes == 5
