"""Draft trees: the candidates a proposer hands to the verifier, and the Medusa tree layout.

A `DraftTree` is a list of nodes in topological order (a parent always comes before its child).
Node 0 is the *root*: the token the target already chose (the bonus token of the previous step),
not yet in the KV cache. A chain (n-gram, draft model) is a tree where node i's parent is i - 1.

`medusa_tree_paths(accuracies, size)` builds the sparse candidate tree of Medusa from measured
head accuracies: a node is a path of top-i choices (head 1's top-i1, head 2's top-i2, ...), its
value the product of the accuracies along it (the chance that the whole path is accepted); the
`size` best nodes are taken best-first, which maximises the expected accepted length over trees
of that size (every prefix of a kept path has at least its value, so the set stays a tree).

`valued_tree` builds a step's own tree from candidates valued by their acceptance chance and the
measured verify cost per node count (EAGLE-2's dynamic-tree idea, with cost in the objective).

Plain Python, no model: tested on worked examples in tests/test_tree.py.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import torch


@dataclass
class DraftTree:
    """Tokens and parent links; `probs[i]` is the draft distribution that node i was sampled from
    (None for deterministic proposals: n-gram lookup, greedy drafts)."""

    tokens: list[int]
    parents: list[int]
    probs: list[torch.Tensor | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.parents) or not self.tokens or self.parents[0] != -1:
            raise ValueError("a tree needs one parent per token and node 0 as root (parent -1)")
        for i, p in enumerate(self.parents[1:], start=1):
            if not 0 <= p < i:
                raise ValueError(f"node {i} has parent {p}: parents must come first")

    @classmethod
    def chain(cls, tokens: list[int], probs: list[torch.Tensor | None] | None = None) -> DraftTree:
        """[r, d1, d2] -> parents [-1, 0, 1]."""
        return cls(list(tokens), [-1] + list(range(len(tokens) - 1)), list(probs or []))

    @classmethod
    def trie(cls, root: int, branches: list[list[int]], max_nodes: int | None = None) -> DraftTree:
        """Root + token sequences merged on common prefixes, in the order given, at most
        `max_nodes` nodes besides the root. [[1, 2], [1, 3], [4]] -> tokens [r, 1, 2, 3, 4],
        parents [-1, 0, 1, 1, 0]."""
        tokens, parents = [root], [-1]
        index: dict[tuple[int, ...], int] = {(): 0}
        for branch in branches:
            for d in range(len(branch)):
                key = tuple(branch[:d + 1])
                if key in index:
                    continue
                if max_nodes is not None and len(tokens) > max_nodes:
                    return cls(tokens, parents)
                index[key] = len(tokens)
                tokens.append(branch[d])
                parents.append(index[key[:-1]])
        return cls(tokens, parents)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def is_chain(self) -> bool:
        return all(p == i - 1 for i, p in enumerate(self.parents))

    def depths(self) -> list[int]:
        """[-1, 0, 0, 1] -> [0, 1, 1, 2]."""
        out = [0] * len(self)
        for i, p in enumerate(self.parents[1:], start=1):
            out[i] = out[p] + 1
        return out

    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in self.tokens]
        for i, p in enumerate(self.parents[1:], start=1):
            kids[p].append(i)
        return kids

    def leaf_paths(self) -> list[list[int]]:
        """Token paths from below the root to every leaf: [5, 7, 8, 9] / [-1, 0, 0, 1] ->
        [[7, 9], [8]]."""
        kids = self.children()
        paths = []
        for leaf in (i for i in range(1, len(self)) if not kids[i]):
            path, node = [], leaf
            while node > 0:
                path.append(self.tokens[node])
                node = self.parents[node]
            paths.append(path[::-1])
        return paths

    def ancestor_mask(self) -> torch.Tensor:
        """(T, T) bool: row i is True at i and at its ancestors (what node i may attend to)."""
        T = len(self)
        mask = torch.zeros(T, T, dtype=torch.bool)
        for i, p in enumerate(self.parents):
            if p >= 0:
                mask[i] = mask[p]
            mask[i, i] = True
        return mask


def greedy_path(tree: DraftTree, target_next: list[int]) -> list[int]:
    """Longest root path whose every child equals the target's argmax after its parent.

    `target_next[i]` = argmax of the target's logits at node i. Ties between siblings cannot
    happen (a parent has one argmax, and siblings carry distinct tokens), so the path is unique.
    Example: tokens [5, 7, 8, 9], parents [-1, 0, 0, 1], target_next [7, 9, 1, 3] -> [0, 1, 3].
    """
    kids = tree.children()
    path = [0]
    while True:
        node = path[-1]
        nxt = next((c for c in kids[node] if tree.tokens[c] == target_next[node]), None)
        if nxt is None:
            return path
        path.append(nxt)


def medusa_tree_paths(accuracies: list[list[float]], size: int) -> list[tuple[int, ...]]:
    """The `size` most probable choice paths (not counting the root), best-first.

    accuracies[k][i] = measured P(head k+1's top-(i+1) token is the right one).
    Example: [[0.6, 0.2], [0.4, 0.1]], size 3 -> [(0,), (0, 0), (1,)]  (values 0.6, 0.24, 0.2).
    """
    if size < 0:
        raise ValueError("tree size must be >= 0")
    heap: list[tuple[float, tuple[int, ...]]] = []
    if accuracies:
        for i, a in enumerate(accuracies[0]):
            heapq.heappush(heap, (-a, (i,)))
    chosen: list[tuple[int, ...]] = []
    while heap and len(chosen) < size:
        neg_value, path = heapq.heappop(heap)
        chosen.append(path)
        depth = len(path)
        if depth < len(accuracies):
            for i, a in enumerate(accuracies[depth]):
                heapq.heappush(heap, (neg_value * a, path + (i,)))
    return chosen


def cost_at(cost: dict[int, float], t: int) -> float:
    """Verify cost of t nodes from a table measured at some node counts: linear between
    measured sizes, flat below the first, linear growth beyond the last."""
    sizes = sorted(cost)
    if t <= sizes[0]:
        return cost[sizes[0]]
    for a, b in zip(sizes, sizes[1:], strict=False):
        if a <= t <= b:
            return cost[a] + (cost[b] - cost[a]) * (t - a) / (b - a)
    return cost[sizes[-1]] * t / sizes[-1]


def best_count(values: list[float], cost: dict[int, float]) -> int:
    """How many of `values` (acceptance chances of candidate nodes, best first) to verify:
    the n that maximises expected tokens per step over its cost, (1 + sum of the n best) /
    cost(n + 1 nodes). Example: [0.5, 0.25], cost {1: 1, 2: 1.2, 3: 1.6} -> 1."""
    best_n, best_value, expected = 0, 1.0 / cost_at(cost, 1), 1.0
    for n, value in enumerate(values, start=1):
        expected += value
        if expected / cost_at(cost, n + 1) > best_value:
            best_n, best_value = n, expected / cost_at(cost, n + 1)
    return best_n


def valued_tree(root: int, candidates: dict[tuple[int, ...], float], cost: dict[int, float],
                max_nodes: int = 24) -> DraftTree:
    """The best tree from candidate token paths valued by their chance of being accepted.

    `candidates` maps a token path below the root to its value; values must not grow along a
    path (a child is accepted only with its parent), so taking nodes best-first keeps every
    parent. Sources can be mixed (the hybrid method: n-gram continuations valued by their
    running acceptance rate, Medusa paths by the heads' probabilities); a path several sources
    propose keeps its best value. Example: {(7,): 0.9, (7, 8): 0.5, (9,): 0.05}, cost
    {1: 1, 3: 1, 4: 1.5} -> tokens [root, 7, 8]."""
    ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], len(kv[0])))[:max_nodes]
    n = best_count([v for _, v in ranked], cost)
    chosen = sorted((path for path, _ in ranked[:n]), key=len)
    return DraftTree.trie(root, [list(p) for p in chosen])


@dataclass
class TreeLayout:
    """A fixed Medusa tree: node j > 0 takes head depth(j)'s top-choice[j] token.

    Built once from `medusa_tree_paths`; per step only the tokens change. Node 0 is the root.
    """

    parents: list[int]
    choice: list[int]  # top-i index of the node's token in its head's ranking (root: -1)
    depth: list[int]

    @classmethod
    def from_paths(cls, paths: list[tuple[int, ...]]) -> TreeLayout:
        index: dict[tuple[int, ...], int] = {(): 0}
        parents, choice, depth = [-1], [-1], [0]
        # Sorting by (length, path) puts parents before children and keeps the layout stable.
        for path in sorted(paths, key=lambda p: (len(p), p)):
            if path[:-1] not in index:
                raise ValueError(f"path {path} has no parent in the tree")
            index[path] = len(parents)
            parents.append(index[path[:-1]])
            choice.append(path[-1])
            depth.append(len(path))
        return cls(parents, choice, depth)

    @property
    def max_depth(self) -> int:
        return max(self.depth)

    @property
    def max_choice(self) -> int:
        return max(self.choice) + 1

    def fill(self, root: int, topk: list[list[int]]) -> DraftTree:
        """topk[k] = head k+1's ranked tokens -> the tree of this step."""
        pairs = zip(self.depth[1:], self.choice[1:], strict=True)
        tokens = [root] + [topk[d - 1][c] for d, c in pairs]
        return DraftTree(tokens, list(self.parents))
