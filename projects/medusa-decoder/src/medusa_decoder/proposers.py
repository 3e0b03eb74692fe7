"""The proposer interface and its three proposers: n-gram prompt lookup, a draft model, Medusa.

A proposer sees the whole sequence so far (`ids`, whose last token is the root: chosen by the
target, not yet verified against anything) and the target's last hidden state, and returns a
`DraftTree` rooted at that token. The decoder verifies it; the proposer never needs to know what
was accepted, since it reads `ids` again next step.

- `NgramProposer`: prompt lookup decoding (Saxena 2023, HF `prompt_lookup_num_tokens`): find the
  latest earlier occurrence of the last n tokens (n from `max_ngram` down to `min_ngram`) and
  propose the k tokens that followed it. Costs no model call.
- `DraftModelProposer`: a smaller causal LM with the same tokenizer, run autoregressively for k
  tokens with its own lean KV cache (cropped to the common prefix each step). `early_exit_model`
  makes the self-speculative draft: the target's own first L layers + its final norm and LM head.
- `MedusaProposer`: K heads on the target's last hidden state give ranked tokens for positions
  +1..+K after the root; a fixed `TreeLayout` (from measured accuracies) or, by default, a tree
  built each step from calibrated acceptance chances and the measured verify cost picks the
  candidates (with an `NgramProposer`: the hybrid method).

Leaves out EAGLE's feature-level autoregressive draft.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

import torch
from llm_shared import UserError
from torch import nn

from .acceptance import probabilities
from .heads import MedusaHeads
from .lean import lean_engine
from .tree import DraftTree, TreeLayout, medusa_tree_paths, valued_tree


class Proposer(Protocol):
    name: str

    def reset(self) -> None:
        """Forget any per-sequence state (call before a new prompt)."""

    def propose(self, ids: list[int], hidden: torch.Tensor, *, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> DraftTree:
        """ids: the sequence, ending with the root; hidden (C,): the target state before it."""


class NoProposer:
    """Plain decoding through the same verifier: a one-node tree, one token per forward."""

    name = "greedy"

    def reset(self) -> None:
        pass

    def propose(self, ids: list[int], hidden: torch.Tensor, *, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> DraftTree:
        return DraftTree.chain([ids[-1]])


def _match_length(ids: list[int], end: int, L: int, cap: int) -> int:
    """How many tokens before `end` equal the ones before L (the whole repeated span, <= cap)."""
    m = 0
    while m < cap and end - m - 1 >= 0 and ids[end - m - 1] == ids[L - m - 1]:
        m += 1
    return m


MATCH_BUCKETS = (1, 2, 4, 8)  # match lengths 1, 2-3, 4-7, 8+


def match_bucket(match: int) -> int:
    return sum(match >= b for b in MATCH_BUCKETS[1:])


class NgramProposer:
    """[.. a b c x y z .. a b c] with n=3, k=2 -> proposes [x, y] after the root c.

    With `branches` > 1 the continuations of several earlier matches (longest n-gram first,
    latest first) are merged into a tree on their common prefixes, so one forward checks them
    all. With `adaptive`, the chain length follows the last step like the draft's schedule:
    +2 after a fully accepted proposal, -1 otherwise, between 2 and k (a text that repeats
    itself gets long drafts, one that does not wastes few nodes). With `scale_by_match`, a
    match proposes at most 2x as many tokens as the repeated span it extends (a 1-token match
    proposes 2, a copied sentence up to k): each extra node widens the verify forward."""

    name = "ngram"

    def __init__(self, num_tokens: int = 6, max_ngram: int = 3, min_ngram: int = 1,
                 branches: int = 1, adaptive: bool = False,
                 scale_by_match: bool = False) -> None:
        if not 1 <= min_ngram <= max_ngram or num_tokens < 1 or branches < 1:
            raise UserError("n-gram sizes need 1 <= min <= max, k >= 1 and branches >= 1; "
                            "fix --max-ngram/--k/--ngram-branches")
        self.k, self.max_ngram, self.min_ngram = num_tokens, max_ngram, min_ngram
        self.branches, self.adaptive, self.scale_by_match = branches, adaptive, scale_by_match
        self.reset()

    def reset(self) -> None:
        self.current_k = self.k
        self.last: tuple[int, list[int]] | None = None  # (len(ids) then, main chain proposed)

    def lookups(self, ids: list[int], k: int | None = None) -> list[list[int]]:
        """Up to `branches` distinct continuations: longest suffix n-gram first, and within
        one n the most recent earlier match first."""
        return [follow for follow, _ in self.matches(ids, k)]

    def matches(self, ids: list[int], k: int | None = None) -> list[tuple[list[int], int]]:
        """`lookups` with each continuation's match length: how many tokens before it equal
        the ones before the root (the whole repeated span, up to k)."""
        k = k or self.k
        L = len(ids)
        found: list[tuple[list[int], int]] = []
        for n in range(min(self.max_ngram, L - 1), self.min_ngram - 1, -1):
            suffix = ids[L - n:]
            # Scan right to left: the latest occurrence is the likeliest continuation.
            for start in range(L - n - 1, -1, -1):
                if ids[start:start + n] == suffix:
                    match = _match_length(ids, start + n, L, k)
                    length = min(k, 2 * match) if self.scale_by_match else k
                    follow = ids[start + n:start + n + length]
                    if follow and all(follow != f for f, _ in found):
                        found.append((follow, match))
                        if len(found) >= self.branches:
                            return found
        return found

    def lookup(self, ids: list[int]) -> list[int]:
        """The continuation of the most recent earlier match of the longest suffix n-gram."""
        found = self.lookups(ids)
        return found[0] if found else []

    def _adapt(self, ids: list[int]) -> None:
        if not self.adaptive or self.last is None:
            return
        start, proposal = self.last
        ok = len(proposal) > 0 and ids[start:start + len(proposal)] == proposal
        self.current_k = min(self.k, self.current_k + 2) if ok else max(2, self.current_k - 1)

    def propose(self, ids: list[int], hidden: torch.Tensor, *, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> DraftTree:
        self._adapt(ids)
        found = self.lookups(ids, self.current_k if self.adaptive else self.k)
        self.last = (len(ids), found[0] if found else [])
        if len(found) <= 1 or temperature > 0:  # speculative sampling needs a chain
            return DraftTree.chain([ids[-1]] + (found[0] if found else []))
        return DraftTree.trie(ids[-1], found)


def early_exit_model(model: Any, num_layers: int) -> Any:
    """The target's first `num_layers` layers + its final norm and LM head, as a causal LM that
    shares the target's weights (no copy) and works with HF `generate(assistant_model=...)`."""
    total = model.config.num_hidden_layers
    if not 1 <= num_layers < total:
        raise UserError(f"--draft-layers must be in 1..{total - 1} for this model "
                        f"(got {num_layers})")
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = num_layers
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:num_layers]
    inner = copy.copy(model.model)
    inner._modules = dict(inner._modules)  # own module table, same module objects
    inner.layers = nn.ModuleList(list(model.model.layers[:num_layers]))
    inner.config = config
    draft = copy.copy(model)
    draft._modules = dict(draft._modules)
    draft.model = inner
    draft.config = config
    draft.generation_config = copy.deepcopy(model.generation_config)
    return draft


def check_same_tokenizer(target_tokenizer: Any, draft_tokenizer: Any) -> None:
    if target_tokenizer.get_vocab() != draft_tokenizer.get_vocab():
        raise UserError("the draft model uses another tokenizer than the target; pass a draft "
                        "with the same vocabulary or use --draft-layers (self-speculative)")


class DraftModelProposer:
    """Up to k greedy (or sampled, with q recorded) tokens from a draft LM with its own KV cache.

    The number proposed adapts like HF's "heuristic" schedule: +2 after a step where every
    draft token was accepted, -1 (not below 1) otherwise, capped at k; it starts at min(k, 4)."""

    name = "draft"

    def __init__(self, draft: Any, num_tokens: int = 4) -> None:
        if num_tokens < 1:
            raise UserError(f"--k must be >= 1 (got {num_tokens})")
        self.draft, self.k = lean_engine(draft), num_tokens  # a LeanLlama (or an HF Llama)
        self.device = self.draft.device
        self.reset()

    def reset(self) -> None:
        self.cache = self.draft.new_cache(256)
        self.cached: list[int] = []  # the tokens whose keys/values the draft cache holds
        self.current_k = min(self.k, 4)
        self.last: tuple[int, list[int]] | None = None  # (len(ids) then, tokens proposed)

    def _adapt(self, ids: list[int]) -> None:
        if self.last is None:
            return
        start, proposal = self.last
        accepted = 0
        while (accepted < len(proposal) and start + accepted < len(ids)
               and ids[start + accepted] == proposal[accepted]):
            accepted += 1
        if accepted == len(proposal):
            self.current_k = min(self.k, self.current_k + 2)
        else:
            self.current_k = max(1, self.current_k - 1)

    def _step(self, new: list[int]) -> torch.Tensor:
        start = len(self.cached)
        ids = torch.tensor(new, device=self.device)  # (t,)
        positions = torch.arange(start, start + len(new), device=self.device)  # (t,)
        hidden = self.draft.forward(ids, positions, self.cache)  # (t, C), causal chain
        self.cache.length = start + len(new)
        self.cached.extend(new)
        return self.draft.logits(hidden[-1:])[0]  # (V,)

    @torch.inference_mode()
    def propose(self, ids: list[int], hidden: torch.Tensor, *, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> DraftTree:
        common = 0
        limit = min(len(self.cached), len(ids) - 1)
        while common < limit and self.cached[common] == ids[common]:
            common += 1
        self.cache.truncate(common)
        self.cached = self.cached[:common]
        self._adapt(ids)
        k = self.current_k
        tokens, probs = [ids[-1]], [None]
        logits = self._step(ids[common:])  # catch up on accepted tokens + the root
        for i in range(k):
            if temperature > 0:
                q = probabilities(logits[None], temperature)[0]  # (V,)
                token = int(torch.multinomial(q, 1, generator=generator))
                probs.append(q)
            else:
                token = int(logits.argmax())
                probs.append(None)
            tokens.append(token)
            if i + 1 < k:
                logits = self._step([token])
        self.last = (len(ids), tokens[1:])
        return DraftTree.chain(tokens, probs)


class MedusaProposer:
    """Medusa heads + a candidate tree; heads run on the target's hidden state only. The tree is
    fixed (a layout from the heads' measured accuracies) or, given the verify `cost` by node
    count, rebuilt each step from the heads' own probabilities (EAGLE-2's dynamic-tree idea).

    With `ngram`, the "hybrid" method: the n-gram lookup's continuations go into the same tree
    (free, and long when the text repeats; the heads cover the rest). With a cost table every
    candidate node is valued by its chance of acceptance and the tree is sized by
    `valued_tree`; with a fixed layout the continuations are simply merged in."""

    name = "medusa"

    def __init__(self, heads: MedusaHeads, lm_weight: torch.Tensor, layout: TreeLayout | None,
                 ngram: NgramProposer | None = None, cost: dict[int, float] | None = None,
                 max_nodes: int = 24, top: int = 4) -> None:
        # cost: verify cost by node count -> a dynamic tree per step (layout unused).
        self.cost, self.max_nodes, self.top = cost, max_nodes, top
        if layout is None and cost is None:
            raise ValueError("pass a fixed tree layout or a cost table for dynamic trees")
        if layout is not None and layout.max_depth > heads.num_heads:
            raise UserError(f"the tree is {layout.max_depth} deep but the file has "
                            f"{heads.num_heads} heads; lower --tree-size")
        self.heads, self.lm_weight, self.layout = heads, lm_weight, layout  # weight (V, C)
        self.ngram = ngram
        if ngram is not None:
            self.name = "hybrid"
        # Dynamic trees: how often a candidate node was right when its parent was, per
        # feature (Medusa: depth and probability decile; n-gram: depth and match-length
        # bucket). Kept across generations (a server learns its rates as it goes).
        self.rates: dict[tuple, list[float]] = {}
        self.reset()

    def reset(self) -> None:
        if self.ngram is not None:
            self.ngram.reset()
        self.pending: tuple[int, dict[tuple[int, ...], list[tuple]]] | None = None

    @torch.inference_mode()
    def propose(self, ids: list[int], hidden: torch.Tensor, *, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> DraftTree:
        if self.cost is not None:
            return self._dynamic_tree(ids, hidden)
        depth = self.layout.max_depth
        topk = self.heads.candidates(hidden[None], self.lm_weight, self.layout.max_choice,
                                     num_heads=depth)[0].tolist()  # (K, top) ranked ids
        tree = self.layout.fill(ids[-1], topk)
        found = self.ngram.lookups(ids) if self.ngram is not None else []
        if not found:
            return tree
        # Fixed layout: the n-gram continuation(s) first, then the Medusa paths, as one trie.
        return DraftTree.trie(ids[-1], found + tree.leaf_paths())

    def _rate(self, feature: tuple, prior: float) -> float:
        accepted, tried = self.rates.get(feature, (2 * prior, 2.0))
        return accepted / tried

    def _learn(self, ids: list[int]) -> None:
        """Score last step's candidates against what the target emitted since (known up to the
        tokens it emitted, whether or not a node was verified)."""
        if self.pending is None:
            return
        start, features = self.pending
        truth = tuple(ids[start:])
        for path, feats in features.items():
            d = len(path)
            if d > len(truth) or path[:-1] != truth[:d - 1]:
                continue  # its parent was wrong (or is not known yet): no evidence
            for feature, prior in feats:
                accepted, tried = self.rates.get(feature, (2 * prior, 2.0))
                self.rates[feature] = [accepted + (path[-1] == truth[d - 1]), tried + 1]

    def _dynamic_tree(self, ids: list[int], hidden: torch.Tensor) -> DraftTree:
        """This step's own tree: each candidate node valued by its chance of acceptance, the
        product along its path of calibrated conditional rates (Medusa: the heads' own
        probability, corrected by how often nodes of that depth and probability were right;
        hybrid n-gram continuations: by depth and match length, since a 12-token repeat goes
        on far more often than a 1-token one), then sized by `valued_tree` against the
        measured verify cost: a confident step gets a deep tree, an unsure one none."""
        self._learn(ids)
        ranked, probs = self.heads.ranked(hidden[None], self.lm_weight, self.top)
        probs_l, tokens_l = probs[0].tolist(), ranked[0].tolist()  # (K, top) each
        values: dict[tuple[int, ...], float] = {(): 1.0}
        features: dict[tuple[int, ...], list[tuple]] = {}

        def add(path: tuple[int, ...], feature: tuple, prior: float) -> None:
            value = values[path[:-1]] * self._rate(feature, prior)
            values[path] = max(values.get(path, 0.0), value)
            features.setdefault(path, []).append((feature, prior))

        # Best-first, so a path's parent is always in `values` before it.
        for path in medusa_tree_paths(probs_l, self.max_nodes):
            p = probs_l[len(path) - 1][path[-1]]
            add(tuple(tokens_l[d][c] for d, c in enumerate(path)),
                ("medusa", len(path), min(int(p * 10), 9)), p)
        if self.ngram is not None:
            for b, (follow, match) in enumerate(self.ngram.matches(ids)):
                for d in range(len(follow)):  # b: main (0) or second continuation, own rates
                    add(tuple(follow[:d + 1]), ("ngram", b, match_bucket(match), d + 1), 0.5)
        self.pending = (len(ids), features)
        del values[()]
        return valued_tree(ids[-1], values, self.cost, self.max_nodes)
