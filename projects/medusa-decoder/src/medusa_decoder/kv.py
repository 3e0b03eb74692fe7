"""The target model behind a KV cache: prefill, verify a draft tree in one forward, keep a path.

Two runners with one interface (`prefill`, `verify`, `keep`, `forwards`): `LeanRunner` over
`lean.LeanLlama` (the default engine: preallocated cache, no per-forward module overhead) and
`TargetRunner` over a Hugging Face model (`--engine hf`). `make_runner` picks by type.

`TargetRunner` owns one Hugging Face `DynamicCache`. `verify(tree)` feeds every tree node at
once: positions = cached length + node depth, and a 4-D boolean mask where node i sees the whole
cached prefix plus its own ancestors (tree attention; a chain is the ordinary causal mask).
`keep(path)` then moves the accepted nodes' keys and values right after the prefix and drops the
rest, so the cache holds exactly the accepted tokens, as if they had been decoded one by one.

Plain greedy decoding uses this same code with one-node trees, so speed ratios compare like with
like. Leaves out batching (one sequence at a time, the latency case speculative decoding is for)
and static caches / CUDA graphs.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache

from .lean import LeanLlama
from .tree import DraftTree


def truncate_cache(cache: DynamicCache, length: int) -> None:
    """Drop every cached position >= length, in all layers."""
    for layer in cache.layers:
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            layer.keys = layer.keys[..., :length, :]  # (B, H_kv, length, D)
            layer.values = layer.values[..., :length, :]


class TargetRunner:
    """One sequence's KV cache over `model` (a causal LM with `.model` and `.lm_head`)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.cache = DynamicCache(config=model.config)
        self.length = 0  # tokens in the cache
        self.forwards = 0  # target forward passes so far (prefill included)

    def _run(self, ids: torch.Tensor, position_ids: torch.Tensor,
             mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model.model(input_ids=ids, position_ids=position_ids, attention_mask=mask,
                               cache=self.cache, use_cache=True)
        hidden = out.last_hidden_state[0]  # (T, C)
        logits = self.model.lm_head(hidden)  # (T, V)
        self.forwards += 1
        return logits, hidden

    @torch.inference_mode()
    def prefill(self, prompt: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cache the prompt; return the logits (V,) and hidden state (C,) at its last token."""
        if not prompt:
            raise ValueError("the prompt must hold at least one token")
        ids = torch.tensor([prompt], device=self.device)  # (1, T)
        positions = torch.arange(len(prompt), device=self.device)[None]  # (1, T)
        logits, hidden = self._run(ids, positions, None)
        self.length = len(prompt)
        return logits[-1], hidden[-1]

    @torch.inference_mode()
    def verify(self, tree: DraftTree) -> tuple[torch.Tensor, torch.Tensor]:
        """All tree nodes in one forward -> logits (T, V) and hidden states (T, C) per node."""
        n, T = self.length, len(tree)
        ids = torch.tensor([tree.tokens], device=self.device)  # (1, T)
        depths = torch.tensor(tree.depths(), device=self.device)
        positions = (n + depths)[None]  # (1, T)
        mask = None
        if not tree.is_chain:
            mask = torch.ones(1, 1, T, n + T, dtype=torch.bool, device=self.device)
            mask[0, 0, :, n:] = tree.ancestor_mask().to(self.device)  # (T, T) tree attention
        return self._run(ids, positions, mask)

    @torch.inference_mode()
    def keep(self, path: list[int]) -> None:
        """Keep the prefix and the nodes of `path` (increasing indices, root first)."""
        n = self.length
        if path != list(range(len(path))):
            index = torch.tensor(path, device=self.device) + n
            for layer in self.cache.layers:
                # (B, H_kv, m, D): the accepted nodes move next to the prefix, in path order.
                layer.keys[..., n:n + len(path), :] = layer.keys.index_select(-2, index)
                layer.values[..., n:n + len(path), :] = layer.values.index_select(-2, index)
        self.length = n + len(path)
        truncate_cache(self.cache, self.length)


class LeanRunner:
    """The same interface over `LeanLlama` and its preallocated `LeanCache`."""

    def __init__(self, engine: LeanLlama, capacity: int = 512) -> None:
        self.engine = engine
        self.device = engine.device
        self.cache = engine.new_cache(capacity)
        self.forwards = 0

    @property
    def length(self) -> int:
        return self.cache.length

    def _run(self, ids: list[int], positions: torch.Tensor,
             mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.engine.forward(torch.tensor(ids, device=self.device), positions,
                                     self.cache, mask)  # (T, C)
        self.forwards += 1
        return self.engine.logits(hidden), hidden  # (T, V), (T, C)

    @torch.inference_mode()
    def prefill(self, prompt: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if not prompt:
            raise ValueError("the prompt must hold at least one token")
        self.cache.length = 0
        self.cache.reserve(2 * len(prompt) + 64)
        logits, hidden = self._run(prompt, torch.arange(len(prompt), device=self.device), None)
        self.cache.length = len(prompt)
        return logits[-1], hidden[-1]

    @torch.inference_mode()
    def verify(self, tree: DraftTree) -> tuple[torch.Tensor, torch.Tensor]:
        n, T = self.cache.length, len(tree)
        positions = n + torch.tensor(tree.depths(), device=self.device)  # (T,)
        mask = None  # one node, or a chain: the engine's causal mask
        if not tree.is_chain:
            mask = torch.ones(T, n + T, dtype=torch.bool, device=self.device)
            mask[:, n:] = tree.ancestor_mask().to(self.device)  # (T, T) tree attention
        return self._run(tree.tokens, positions, mask)

    @torch.inference_mode()
    def keep(self, path: list[int]) -> None:
        self.cache.keep(path)


def make_runner(model: Any) -> TargetRunner | LeanRunner:
    return LeanRunner(model) if isinstance(model, LeanLlama) else TargetRunner(model)
