"""The semantic cache rule on the real embedded MiniLM and the project's labelled pairs."""

from llm_gateway.cache import SemanticCache, default_embedder, evaluate_threshold
from llm_gateway.cache_pairs import PAIRS


def test_guarded_rule_is_precise_at_the_default_threshold_and_cosine_alone_is_not():
    embed = default_embedder()
    threshold = SemanticCache(embed).threshold
    guarded = evaluate_threshold(embed, PAIRS, [threshold], guard=True)[0]
    cosine = evaluate_threshold(embed, PAIRS, [threshold], guard=False)[0]
    assert guarded["precision"] >= 0.98 and guarded["recall"] >= 0.6
    # MiniLM alone calls 'string to int' and 'int to string' the same question.
    assert cosine["precision"] < 0.9
    assert guarded["hits"] < cosine["hits"]
