import pytest
import torch
from medusa_decoder.tree import DraftTree, TreeLayout, greedy_path, medusa_tree_paths


def test_chain_and_depths():
    chain = DraftTree.chain([5, 6, 7])
    assert chain.parents == [-1, 0, 1] and chain.is_chain and chain.depths() == [0, 1, 2]
    tree = DraftTree([5, 7, 8, 9], [-1, 0, 0, 1])
    assert not tree.is_chain and tree.depths() == [0, 1, 1, 2]
    assert tree.children() == [[1, 2], [3], [], []]


def test_ancestor_mask_worked_example():
    tree = DraftTree([5, 7, 8, 9], [-1, 0, 0, 1])
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 1]]).bool()
    assert torch.equal(tree.ancestor_mask(), expected)


def test_greedy_path_worked_example():
    tree = DraftTree([5, 7, 8, 9], [-1, 0, 0, 1])
    assert greedy_path(tree, [7, 9, 1, 3]) == [0, 1, 3]
    assert greedy_path(tree, [8, 9, 1, 3]) == [0, 2]
    assert greedy_path(tree, [4, 9, 1, 3]) == [0]


def test_medusa_tree_paths_best_first():
    assert medusa_tree_paths([[0.6, 0.2], [0.4, 0.1]], 3) == [(0,), (0, 0), (1,)]
    paths = medusa_tree_paths([[0.6, 0.2, 0.1], [0.5, 0.3], [0.4]], 8)
    # every kept path's prefix is kept too (the set is a tree)
    assert all(p[:-1] in paths or len(p) == 1 for p in paths)
    values = []
    for p in paths:
        v = 1.0
        for depth, i in enumerate(p):
            v *= [[0.6, 0.2, 0.1], [0.5, 0.3], [0.4]][depth][i]
        values.append(v)
    assert values == sorted(values, reverse=True)


def test_layout_fill():
    layout = TreeLayout.from_paths([(0,), (0, 0), (1,)])
    assert layout.parents == [-1, 0, 0, 1] and layout.depth == [0, 1, 1, 2]
    tree = layout.fill(42, [[10, 11], [20, 21]])
    assert tree.tokens == [42, 10, 11, 20]


def test_bad_tree_rejected():
    with pytest.raises(ValueError):
        DraftTree([1, 2], [-1, 1])


def test_trie_merges_prefixes_and_leaf_paths_invert_it():
    tree = DraftTree.trie(42, [[1, 2], [1, 3], [4]])
    assert tree.tokens == [42, 1, 2, 3, 4] and tree.parents == [-1, 0, 1, 1, 0]
    assert tree.leaf_paths() == [[1, 2], [1, 3], [4]]
    assert len(DraftTree.trie(42, [[1, 2], [1, 3], [4]], max_nodes=2)) == 3
    assert DraftTree([5, 7, 8, 9], [-1, 0, 0, 1]).leaf_paths() == [[8], [7, 9]]


def test_ngram_branches_and_adaptive_length():
    from medusa_decoder.proposers import NgramProposer

    ids = [7, 1, 2, 3, 9, 1, 2, 4, 1, 2]  # suffix "1 2" occurs twice before: ->4 (latest), ->3
    prop = NgramProposer(num_tokens=2, max_ngram=2, branches=3)
    assert prop.lookups(ids) == [[4, 1], [3, 9]]  # latest first; n = 1 adds only duplicates
    tree = prop.propose(ids, None)
    assert tree.tokens == [2, 4, 1, 3, 9] and tree.parents == [-1, 0, 1, 0, 3]
    chain = prop.propose(ids, None, temperature=1.0)  # sampling: a chain only
    assert chain.is_chain and chain.tokens == [2, 4, 1]
    adaptive = NgramProposer(num_tokens=6, max_ngram=2, adaptive=True)
    adaptive.propose(ids, None)
    adaptive.propose(ids + [5], None)  # proposal [4, 1] rejected at once -> k shrinks
    assert adaptive.current_k == 5


def test_cost_interpolation_and_best_count():
    from medusa_decoder.tree import best_count, cost_at

    cost = {1: 1.0, 4: 1.0, 8: 2.0}
    assert cost_at(cost, 2) == 1.0 and cost_at(cost, 6) == 1.5 and cost_at(cost, 16) == 4.0
    assert best_count([0.5, 0.25], {1: 1, 2: 1.2, 3: 1.6}) == 1
    # free width (4 nodes cost what 1 does): every node with any chance is worth verifying
    assert best_count([0.9, 0.5, 0.01], cost) == 3
    assert best_count([0.1], {1: 1.0, 2: 1.5}) == 0  # a one-token step beats a poor guess


def test_valued_tree_keeps_parents_and_sizes_by_cost():
    from medusa_decoder.tree import valued_tree

    cands = {(7,): 0.9, (7, 8): 0.5, (9,): 0.05}
    tree = valued_tree(42, cands, {1: 1, 3: 1, 4: 1.5})
    assert tree.tokens == [42, 7, 8] and tree.parents == [-1, 0, 1]
    wide = valued_tree(42, cands, {1: 1, 8: 1})  # width is free: take all three
    assert sorted(wide.tokens[1:]) == [7, 8, 9] and wide.parents[wide.tokens.index(8)] == 1
    assert valued_tree(42, {(7,): 0.01}, {1: 1, 2: 2}).tokens == [42]


def test_dynamic_tree_rates_learn_from_what_was_emitted():
    from medusa_decoder.proposers import MedusaProposer

    prop = MedusaProposer(None, None, None, cost={1: 1.0})
    hi, mid, lo, deep = ("medusa", 1, 9), ("medusa", 2, 5), ("medusa", 1, 1), ("medusa", 3, 2)
    prop.pending = (3, {(5,): [(hi, 0.9)], (5, 6): [(mid, 0.5)], (7,): [(lo, 0.1)],
                        (5, 6, 9): [(deep, 0.2)], (7, 6): [(mid, 0.5)]})
    prop._learn([1, 2, 3, 5, 6])  # the target emitted 5, 6 after the root
    assert prop.rates[hi] == [1.8 + 1, 3.0] and prop.rates[lo] == [0.2, 3.0]
    assert prop.rates[mid] == [2.0, 3.0]  # (7, 6) had a wrong parent: no evidence
    assert deep not in prop.rates  # deeper than what was emitted: unknown yet
    assert prop._rate(hi, 0.9) == 2.8 / 3 and prop._rate(("new",), 0.3) == 0.3
