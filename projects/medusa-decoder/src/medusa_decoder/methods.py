"""From a method name to a ready proposer: loads the target, heads file and draft once.

`Decoder(config)` holds the target model and tokenizer, the engine the verifier runs (the lean
engine in `--dtype`, or the HF model) and builds `proposer(method)` for greedy / ngram / draft /
medusa / hybrid; `decoder.generate(prompt_ids, method)` runs one of them. `--tree-size 0` measures
this machine's verify cost per node count once (`measure_verify_cost`) for dynamic trees.
The heads file defaults to the one packaged for the embedded model (`medusa_decoder/data/`),
written by `medusa-decoder train-heads --output ...` (the README gives the command).
Self-speculative draft: the target's first L layers; when the heads file carries an exit block
trained for that L (train-heads --draft-layers L), it sits between the final norm and LM head.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import EMBEDDED_LLM, UserError, load_causal_lm, pick_device
from torch import nn

from .config import DecodeConfig
from .decoding import GenerationResult, generate
from .heads import MedusaHeads, load_heads
from .kv import make_runner
from .lean import LeanLlama, lean_engine, resolve_dtype
from .proposers import (
    DraftModelProposer,
    MedusaProposer,
    NgramProposer,
    NoProposer,
    Proposer,
    check_same_tokenizer,
    early_exit_model,
)
from .tree import DraftTree, TreeLayout, medusa_tree_paths

DEFAULT_DRAFT_LAYERS = 8
PACKAGED_HEADS = Path(__file__).parent / "data" / f"{EMBEDDED_LLM}.heads.safetensors"


def default_heads_path(model_name: str) -> Path | None:
    return PACKAGED_HEADS if model_name == EMBEDDED_LLM and PACKAGED_HEADS.is_file() else None


def medusa_layout(heads: MedusaHeads, tree_size: int) -> TreeLayout:
    if not heads.accuracies:
        raise UserError("the heads file has no measured accuracies; retrain with train-heads")
    return TreeLayout.from_paths(medusa_tree_paths(heads.accuracies, max(tree_size, 1)))


@torch.inference_mode()
def measure_verify_cost(engine: Any, sizes: tuple[int, ...] = (1, 4, 6, 7, 8, 10, 12, 16, 24),
                        prefix: int = 128, repeats: int = 5) -> dict[int, float]:
    """Seconds of one verify forward over T nodes after a `prefix`-token cache, relative to
    T = 1 (median of `repeats`, sizes interleaved so machine noise hits all alike)."""
    vocab = engine.config.vocab_size
    runner = make_runner(engine)
    runner.prefill([(100 + i) % vocab for i in range(prefix)])
    times: dict[int, list[float]] = {t: [] for t in sizes}
    for _ in range(repeats):
        for t in sizes:
            tree = DraftTree.chain([(200 + i) % vocab for i in range(t)])
            start = time.perf_counter()
            runner.verify(tree)
            times[t].append(time.perf_counter() - start)
    base = statistics.median(times[sizes[0]])
    return {t: statistics.median(v) / base for t, v in times.items()}


class Decoder:
    def __init__(self, config: DecodeConfig, model: Any = None, tokenizer: Any = None) -> None:
        self.config = config
        if model is None:
            dtype = resolve_dtype(config.dtype, pick_device(config.device))
            model, tokenizer = load_causal_lm(config.model, device=config.device, dtype=dtype)
        else:  # a model passed in keeps its dtype under "auto"
            dtype = (model.lm_head.weight.dtype if config.dtype == "auto"
                     else resolve_dtype(config.dtype, model.lm_head.weight.device))
        self.model, self.tokenizer, self.dtype = model, tokenizer, dtype
        self._engine: Any = None
        self._verify_cost: dict[int, float] | None = None
        self._heads: MedusaHeads | None = None
        self._draft: Any = None
        self._proposers: dict[str, Proposer] = {}

    @property
    def heads(self) -> MedusaHeads:
        if self._heads is None:
            path = self.config.heads or default_heads_path(self.config.model)
            if path is None:
                raise UserError(f"no heads file for {self.config.model}; run `medusa-decoder "
                                "train-heads --output DIR` and pass --heads DIR/heads.safetensors")
            self._heads = load_heads(path, self.model)
        return self._heads

    def _heads_if_any(self) -> MedusaHeads | None:
        if self.config.heads or default_heads_path(self.config.model):
            return self.heads
        return None

    @property
    def engine(self) -> Any:
        """What the verifier runs: a `LeanLlama` (--engine lean) or the HF model itself."""
        if self._engine is None:
            if self.config.engine == "hf":
                if self.model.lm_head.weight.dtype != self.dtype:
                    raise UserError("--engine hf runs the model in its loaded dtype; pass "
                                    "--dtype auto or use --engine lean")
                self._engine = self.model
            else:
                self._engine = lean_engine(self.model, self.dtype)
        return self._engine

    def _draft_layers(self) -> int:
        heads = self._heads_if_any()
        return self.config.draft_layers or (
            heads.draft_layers if heads is not None and heads.draft_layers
            else DEFAULT_DRAFT_LAYERS)

    def lean_draft(self) -> Any:
        """The draft for our proposer, on the lean engine in the same dtype as the target."""
        if self.config.draft_model:
            return lean_engine(self.draft, self.dtype)
        heads = self._heads_if_any()
        layers = self._draft_layers()
        early_exit_model(self.model, layers)  # validates L
        block = (heads.exit_block if heads is not None and heads.draft_layers == layers
                 else None)
        return LeanLlama(self.model, self.dtype, num_layers=layers, exit_block=block)

    @property
    def draft(self) -> Any:
        """The HF draft LM (HF's assisted generation uses it): --draft-model, else the target's
        first L layers (+ exit block)."""
        if self._draft is None:
            if self.config.draft_model:
                draft, draft_tok = load_causal_lm(self.config.draft_model,
                                                  device=self.config.device)
                check_same_tokenizer(self.tokenizer, draft_tok)
                self._draft = draft
            else:
                heads = self._heads_if_any()
                layers = self._draft_layers()
                draft = early_exit_model(self.model, layers)
                if heads is not None and heads.exit_block is not None \
                        and heads.draft_layers == layers:
                    draft.lm_head = nn.Sequential(heads.exit_block, self.model.lm_head)
                self._draft = draft
        return self._draft

    def verify_cost(self) -> dict[int, float]:
        """This machine's verify cost per node count (measured once per decoder)."""
        if self._verify_cost is None:
            self._verify_cost = measure_verify_cost(self.engine)
        return self._verify_cost

    def proposer(self, method: str) -> Proposer:
        if method not in self._proposers:
            c = self.config
            if method == "greedy":
                prop: Proposer = NoProposer()
            elif method == "ngram":
                prop = NgramProposer(c.k, c.max_ngram, c.min_ngram, branches=c.ngram_branches,
                                     adaptive=c.ngram_adaptive, scale_by_match=c.ngram_scale)
            elif method == "draft":
                prop = DraftModelProposer(self.lean_draft(), c.k)
            elif method in ("medusa", "hybrid"):
                weight = (self.engine.lm_head if c.engine == "lean"
                          else self.model.lm_head.weight)
                self.heads.to(weight.dtype)
                ngram = None
                if method == "hybrid":
                    ngram = NgramProposer(c.k, c.max_ngram, c.min_ngram,
                                          branches=c.ngram_branches,
                                          scale_by_match=c.ngram_scale)
                if c.tree_size == 0:  # dynamic: sized per step by confidence and cost
                    prop = MedusaProposer(self.heads, weight, None, ngram,
                                          cost=self.verify_cost())
                else:
                    prop = MedusaProposer(self.heads, weight,
                                          medusa_layout(self.heads, c.tree_size), ngram)
            else:
                raise UserError(f"unknown method {method!r}; use greedy, ngram, draft, medusa "
                                "or hybrid")
            self._proposers[method] = prop
        return self._proposers[method]

    def generate(self, prompt: list[int], method: str | None = None, *,
                 max_tokens: int | None = None, seed: int | None = None) -> GenerationResult:
        c = self.config
        method = method or c.method
        mode = c.acceptance
        if mode == "auto":
            mode = "greedy" if c.temperature == 0 else (
                "typical" if method in ("medusa", "hybrid") else "sample")
        if mode == "sample" and method in ("medusa", "hybrid"):
            raise UserError("speculative sampling needs a chain; use --acceptance typical "
                            "with medusa, or --method ngram/draft")
        generator = torch.Generator(device="cpu").manual_seed(c.seed if seed is None else seed)
        return generate(self.engine, self.proposer(method), prompt,
                        max_new_tokens=max_tokens or c.max_tokens, mode=mode,
                        temperature=c.temperature, generator=generator,
                        typical_epsilon=c.typical_epsilon, typical_delta=c.typical_delta)

    def encode_prompt(self, text: str, chat: bool = True) -> list[int]:
        if not text.strip():
            raise UserError("--prompt is empty; pass some text")
        if chat and getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                     add_generation_prompt=True, return_dict=True)
            return list(ids["input_ids"])
        return list(self.tokenizer(text)["input_ids"])
