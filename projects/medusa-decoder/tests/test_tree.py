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
