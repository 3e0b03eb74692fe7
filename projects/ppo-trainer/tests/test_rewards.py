"""Rule rewards: the parser scores 0 on a parse failure, the format check, and the guard that turns
a raising / NaN / wrong-length reward function into a RewardError (a skipped step)."""

import pytest
from llm_shared import UserError
from ppo_trainer.rewards import (
    RewardError,
    correct_reward,
    format_reward,
    parse_answer,
    resolve_reward,
    score,
)


@pytest.mark.parametrize("text,expected", [
    ("<answer>12</answer>", 12), ("<answer> -3 </answer>", -3), ("so <answer>7</answer> ok", 7),
    ("<answer>1.5</answer>", None), ("<answer>twelve</answer>", None), ("12", None),
    ("<answer>12", None), ("", None), ("<answer>4</answer><answer>5</answer>", 4),
])
def test_parse_answer(text, expected):
    assert parse_answer(text) == expected


def test_correct_scores_zero_on_parse_failure_and_wrong_answers():
    completions = ["<answer>7</answer>", "<answer>8</answer>", "7", "<answer>x</answer>"]
    assert correct_reward(completions, [7, 7, 7, 7]) == [1.0, 0.0, 0.0, 0.0]


def test_format_reward_is_exact_tags_only():
    completions = ["<answer>7</answer>", " <answer>7</answer>\n", "It is <answer>7</answer>",
                   "<answer>seven</answer>"]
    assert format_reward(completions, [7] * 4) == [1.0, 1.0, 0.0, 0.0]


def test_score_weights_and_means():
    totals, means = score([correct_reward, format_reward], [1.0, 0.5],
                          ["<answer>7</answer>", "It is <answer>7</answer>"], [7, 7])
    assert totals == [1.5, 1.0]
    assert means == {"correct_reward": 1.0, "format_reward": 0.5}


def _raises(completions, answers):
    raise KeyError("boom")


def _nan(completions, answers):
    return [float("nan")] * len(completions)


def _short(completions, answers):
    return [1.0]


@pytest.mark.parametrize("fn,words", [(_raises, "raised KeyError"), (_nan, "NaN"),
                                      (_short, "returned 1 values")])
def test_bad_reward_functions_become_reward_errors(fn, words):
    with pytest.raises(RewardError, match=words):
        score([fn], [1.0], ["a", "b"], [1, 2])


def test_resolve_reward():
    assert resolve_reward("correct") is correct_reward
    assert resolve_reward("ppo_trainer.rewards:format_reward") is format_reward
    with pytest.raises(UserError, match="unknown reward"):
        resolve_reward("nope")
    with pytest.raises(UserError, match="cannot import"):
        resolve_reward("no_such_module_xyz:fn")
