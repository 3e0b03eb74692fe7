"""Settings of medusa-decoder; each field's help is the reference and becomes a CLI flag.

`DecodeConfig` drives `generate` (and the per-method settings of bench and demo),
`TrainHeadsConfig` drives `train-heads`, `BenchConfig` and `DemoConfig` their commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param

METHODS = ("greedy", "ngram", "draft", "medusa", "hybrid")


@dataclass
class DecodeConfig:
    model: str = param(EMBEDDED_LLM, help="target model: name, local directory or HF id")
    method: str = param("medusa", help="proposer (hybrid = Medusa tree + n-gram chain)",
                        choices=METHODS)
    max_tokens: int = param(64, help="tokens to generate")
    temperature: float = param(0.0, help="0 = greedy (exact); > 0 samples")
    acceptance: str = param("auto", help="auto (greedy at T=0, speculative sampling for chains, "
                            "typical for trees), greedy, sample, typical (Medusa, not exact)",
                            choices=("auto", "greedy", "sample", "typical"))
    k: int = param(16, help="most tokens proposed per step by ngram and draft")
    max_ngram: int = param(3, help="longest suffix n-gram looked up in the context")
    min_ngram: int = param(1, help="shortest suffix n-gram that may propose (a 1-token match "
                           "is often a guess; each proposal makes the forward wider)")
    ngram_branches: int = param(2, help="ngram: continuations of up to N earlier matches, "
                                "merged into one candidate tree (1 = a chain, like HF)")
    ngram_adaptive: bool = param(False, help="ngram: draft length adapts (+2 after a fully "
                                 "accepted step, -1 otherwise, 2..k)")
    ngram_scale: bool = param(True, help="ngram / hybrid: propose at most 2x the length of "
                              "the repeated span found (long copies get long drafts)")
    draft_layers: int = param(0, help="self-speculative draft: the target's first L layers "
                              "(0 = the L stored in the heads file, else 8)")
    draft_model: str = param("", help="a separate draft model with the same tokenizer "
                             "(overrides --draft-layers)")
    heads: str = param("", help="heads file from train-heads (default: the packaged heads for "
                       "the embedded model)")
    tree_size: int = param(0, help="Medusa candidate nodes per step besides the root; 0 = "
                           "dynamic: rebuilt each step from the heads' probabilities and this "
                           "machine's measured verify cost per node count")
    typical_epsilon: float = param(0.09, help="typical acceptance: hard threshold")
    typical_delta: float = param(0.3, help="typical acceptance: entropy-scaled threshold")
    seed: int = param(0, help="random seed for sampling")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    dtype: str = param("float32", help="compute dtype of the target, draft and heads: "
                       "float32 (default, the model's reference numerics) or bfloat16 (~1.4x "
                       "faster on CPUs with AVX512-BF16/AMX); on the lean CPU engine both are "
                       "batch invariant, so every method's greedy output is plain greedy's "
                       "in either. auto: bfloat16 where it is fast; a model passed in keeps "
                       "its own dtype")
    engine: str = param("lean", help="lean (own Llama forward over a preallocated cache) or hf "
                        "(transformers modules + DynamicCache)", choices=("lean", "hf"))

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0 (got {self.temperature}); 0 = greedy")
        if self.max_tokens < 1:
            raise UserError(f"--max-tokens must be >= 1 (got {self.max_tokens})")
        if self.k < 1 or self.max_ngram < 1 or self.tree_size < 0 or self.draft_layers < 0 \
                or self.ngram_branches < 1 or not 1 <= self.min_ngram <= self.max_ngram:
            raise UserError("--k, --max-ngram and --ngram-branches must be >= 1, --min-ngram in "
                            "1..max-ngram, --tree-size and --draft-layers >= 0")
        if self.acceptance == "greedy" and self.temperature > 0:
            raise UserError("--acceptance greedy needs --temperature 0")


@dataclass
class TrainHeadsConfig:
    model: str = param(EMBEDDED_LLM, help="base model the heads are for (kept frozen)")
    output: str = param("", help="output directory (heads.safetensors, data.pt, checkpoint.pt)")
    num_heads: int = param(4, help="Medusa heads K (head k predicts token t+1+k)")
    draft_layers: int = param(8, help="also train an exit block on layer L for the draft "
                              "method (0 = none)")
    own_lm_head: bool = param(False, help="a trainable LM head copy per head (Medusa-1) instead "
                              "of the shared frozen base head")
    num_prompts: int = param(384, help="corpus prompts (half chat, half docs) to self-distill")
    gen_tokens: int = param(64, help="tokens the base model generates per prompt")
    context_chars: int = param(800, help="characters of each docs passage (teacher-forced "
                               "positions, labelled with the model's own greedy choices)")
    gen_batch_size: int = param(8, help="prompts per batched generate call")
    steps: int = param(1500, help="optimizer steps")
    batch_size: int = param(256, help="positions per step")
    lr: float = param(2e-3, help="AdamW learning rate")
    checkpoint_every: int = param(50, help="steps between checkpoints")
    resume: bool = param(False, help="continue from OUTPUT/data.pt and OUTPUT/checkpoint.pt")
    seed: int = param(0, help="random seed")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if not self.output:
            raise UserError("--output DIR is required (where heads.safetensors goes)")
        for name in ("num_heads", "num_prompts", "gen_tokens", "steps", "batch_size",
                     "checkpoint_every", "gen_batch_size", "context_chars"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1")
        if self.num_prompts < 2:
            raise UserError("--num-prompts must be >= 2 (one chat, one docs)")
        if self.lr <= 0 or self.draft_layers < 0:
            raise UserError("--lr must be > 0 and --draft-layers >= 0")


@dataclass
class BenchConfig:
    model: str = param(EMBEDDED_LLM, help="target model")
    prompts: int = param(2, help="prompts per kind (chat, docs)")
    max_tokens: int = param(96, help="tokens generated per prompt")
    # NOTE: 3 repeats (alternating order, median) instead of one pass: on the shared machine a
    # single pass let one slow moment decide a ratio; fewer prompts/tokens keep it under ~8 min.
    repeats: int = param(3, help="timed repeats per method and prompt, interleaved in "
                         "alternating order (median)")
    methods: list[str] = param(["greedy", "ngram", "draft", "medusa", "hybrid", "hf_greedy",
                                "hf_prompt_lookup", "hf_assisted"],
                               help="methods to time (ours + HF peers)")
    heads: str = param("", help="heads file (default: packaged)")
    tree_size: int = param(0, help="Medusa candidate nodes per step (0 = dynamic)")
    k: int = param(16, help="n-gram / draft tokens per step at most (ours and HF's)")
    ngram_branches: int = param(2, help="ngram: earlier matches merged into one tree")
    min_ngram: int = param(1, help="ngram / hybrid: shortest suffix match that proposes")
    ngram_adaptive: bool = param(False, help="ngram: adaptive draft length (2..k)")
    ngram_scale: bool = param(True, help="ngram / hybrid: draft <= 2x the repeated span")
    threads: int = param(1, help="torch threads (0 = torch default); NOTE: 1 is ~2.5x faster "
                         "per token than 2 on this shared 2-core machine (measured)")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    dtype: str = param("float32", help="dtype of every method and HF peer alike: float32 "
                       "(the model's reference numerics), bfloat16 (~1.4x faster on a CPU with "
                       "AVX512-BF16/AMX; numerically another model, equally exact), or auto")
    engine: str = param("lean", help="our methods' forward: lean or hf", choices=("lean", "hf"))

    def __post_init__(self) -> None:
        if self.prompts < 1 or self.max_tokens < 1 or self.repeats < 1 or self.k < 1:
            raise UserError("--prompts, --max-tokens, --repeats and --k must be >= 1")
        if self.tree_size < 0 or self.ngram_branches < 1 or self.min_ngram < 1:
            raise UserError("--tree-size must be >= 0, --ngram-branches and --min-ngram >= 1")
        known = (*METHODS, "hf_greedy", "hf_prompt_lookup", "hf_assisted")
        unknown = [m for m in self.methods if m not in known]
        if unknown:
            raise UserError(f"unknown method(s) {unknown}; choose from {list(known)}")


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="target model")
    prompts: int = param(1, help="prompts per kind (chat, docs)")
    max_tokens: int = param(32, help="tokens generated per prompt")
    heads: str = param("", help="heads file (default: packaged, else trained quickly)")
    threads: int = param(1, help="torch threads (0 = torch default); NOTE: 1 measured ~2.5x "
                         "faster per token than 2 on this shared 2-core machine")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    dtype: str = param("float32", help="float32 (the model's reference numerics), bfloat16 "
                       "(faster on a CPU with AVX512-BF16/AMX), or auto")

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.prompts < 1:
            raise UserError("--max-tokens and --prompts must be >= 1")
