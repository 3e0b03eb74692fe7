"""A lean Llama forward over plain tensors with a preallocated KV cache and tree attention.

Why: at batch 1 on a CPU, Hugging Face's module stack (DynamicCache bookkeeping, mask building,
~15 Python modules per layer) costs milliseconds per forward on top of the matmuls, and that
fixed cost is paid once per *token* by plain decoding. `LeanLlama` runs the same math as
`LlamaForCausalLM` op for op (float32 RMSNorm, HF's RoPE tables, rotate-half, GQA attention,
SwiGLU) with fused QKV and gate/up matmuls, reading the weights of an already loaded HF model
(no copy in float32; a cast copy in `dtype` otherwise). Plain greedy and every proposer run on it
alike, so speed ratios still compare like with like.

`LeanCache`: keys/values as one (L, H_kv, capacity, D) tensor each; slots [0, length) are the
accepted sequence. `forward` writes the T new nodes at slots [length, length + T) with RoPE
positions given by the caller (length + tree depth), attends with a (T, length + T) mask, and
`keep(path)` moves the accepted nodes next to the prefix for every layer in one index copy.

Batch invariance (what makes speculative decoding exact to the bit, not just to the token):
a token's hidden state must not depend on how many other tokens share its forward or where its
ancestors sit in a tree. The matmuls run through `llm_shared.PackedLinear` (weights prepacked
once for oneDNN: on one thread a verify over up to 6 nodes then costs what a one-token forward
does, where MKL's per-call weight packing made 8 nodes cost 1.67x; and its kernels' rows do not
depend on the row count once one-row calls are padded to 4); attention computes scores,
softmax and the weighted sum over keys in float64 and rounds once at the end, so the different
summation orders of a one-token step and a tree verify (masked keys add exact zeros in between)
differ by ~1e-16 and vanish in that rounding. `batch_invariance_check` compares the bits of
one-token steps against chain and tree verifies (the tests run it in float32 and bf16, the bench
at start-up). Cost: ~8 % of a one-token forward (bench_forward.py against HF's, same run).

`num_layers` < L gives the self-speculative draft (the first layers + the final norm), sharing
the tensors. RMSNorm, the RoPE tables, the fused weights and the architecture check come from
`llm_shared.llama` (shared with paged-kv-server): other model types, biases (Qwen2) and sliding
windows (Mistral) are refused in one line. Leaves out RoPE scaling variants other than what HF's
`inv_freq` already encodes, and batching. Tested against HF logits in tests/test_lean.py.
"""

from __future__ import annotations

import copy
import weakref
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from llm_shared import (
    PackedLinear,
    UserError,
    check_llama_config,
    fused_layer_weights,
    pick_dtype,
    rms_norm,
    rope_tables,
)


class LeanCache:
    """Preallocated keys/values (L, H_kv, capacity, D); grows by doubling when full."""

    def __init__(self, layers: int, kv_heads: int, head_dim: int, capacity: int,
                 dtype: torch.dtype, device: torch.device) -> None:
        shape = (layers, kv_heads, capacity, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[2]

    def reserve(self, needed: int) -> None:
        if needed > self.capacity:
            extra = max(needed, 2 * self.capacity) - self.capacity
            pad = torch.zeros_like(self.k[:, :, :1]).expand(-1, -1, extra, -1)
            self.k = torch.cat([self.k, pad], dim=2)
            self.v = torch.cat([self.v, pad], dim=2)

    def keep(self, path: list[int]) -> None:
        """Keep the prefix and the nodes of `path` (slot offsets after it, increasing)."""
        n = self.length
        if path != list(range(len(path))):
            index = torch.tensor(path, device=self.k.device) + n
            # (L, H_kv, m, D): the accepted nodes move next to the prefix, all layers at once.
            self.k[:, :, n:n + len(path)] = self.k.index_select(2, index)
            self.v[:, :, n:n + len(path)] = self.v.index_select(2, index)
        self.length = n + len(path)

    def truncate(self, length: int) -> None:
        self.length = min(self.length, length)


class LeanLlama:
    """`forward(ids, positions, cache, mask) -> normed hidden (T, C)`; `logits(h) -> (T, V)`."""

    def __init__(self, model: Any, dtype: torch.dtype | None = None,
                 num_layers: int | None = None, exit_block: Any = None) -> None:
        config = model.config
        try:
            check_llama_config(config, "the lean engine's model")
        except UserError as exc:
            raise UserError(f"{exc}; use --engine hf") from None
        self.dtype = dtype or model.lm_head.weight.dtype
        self.device = model.lm_head.weight.device
        self.config = config
        self.generation_config = model.generation_config
        self.H = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.D = getattr(config, "head_dim", None) or config.hidden_size // self.H
        self.eps = config.rms_norm_eps
        self.scale = self.D ** -0.5
        # Attention (and the KV cache, which holds dtype-rounded values) in float64 on a CPU:
        # see "Batch invariance" in the module docstring. float32 elsewhere (GPUs' float64 is
        # slow, and their GEMMs are not batch invariant anyway).
        self.acc = torch.float64 if self.device.type == "cpu" else torch.float32

        def w(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(self.dtype)  # no copy when the dtype already matches

        self.embed = w(model.model.embed_tokens.weight)  # (V, C)
        # Optional module between the final norm and the LM head (the draft's exit block).
        self.exit_block = None
        if exit_block is not None:
            self.exit_block = copy.deepcopy(exit_block).to(self.dtype).eval()
        self.lm_head = w(model.lm_head.weight)  # (V, C), tied or not
        self.norm = w(model.model.norm.weight)
        self.lm_head_op = PackedLinear(self.lm_head)
        count = len(model.model.layers[:num_layers])
        fused = [fused_layer_weights(lambda name: w(model.get_parameter(name)), i)
                 for i in range(count)]
        # (input_norm, qkv ((H + 2 H_kv) D, C), o, post_norm, gate_up (2I, C), down) per layer
        self.layers = [(f["input_norm"], f["qkv"], f["o"], f["post_norm"], f["gate_up"], f["down"])
                       for f in fused]
        # The matmuls run through prepacked copies (PackedLinear); the plain weights above stay
        # for the draft, the Medusa read-out and the float32 re-scoring of the top logits.
        self.ops = [(PackedLinear(qkv), PackedLinear(o), PackedLinear(gu), PackedLinear(down))
                    for _, qkv, o, _, gu, down in self.layers]
        # RoPE as HF computes it: float32 inv_freq (already scaled by HF's rope init) x position.
        rotary = model.model.rotary_emb
        self.inv_freq = rotary.inv_freq.float()  # (D/2,)
        self.rope_scale = float(getattr(rotary, "attention_scaling", 1.0))
        self._rope_len = 0
        self.cos = self.sin = torch.empty(0)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def new_cache(self, capacity: int = 512) -> LeanCache:
        return LeanCache(self.num_layers, self.n_kv, self.D, capacity, self.acc, self.device)

    def _rope(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        need = int(positions.max()) + 1
        if need > self._rope_len:
            length = max(need, 2 * self._rope_len, 1024)
            cos, sin = rope_tables(self.inv_freq, length, self.rope_scale, self.device)  # (P, D)
            self.cos, self.sin = cos.to(self.dtype), sin.to(self.dtype)
            self._rope_len = length
        return self.cos[positions], self.sin[positions]  # (T, D) each

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, positions: torch.Tensor, cache: LeanCache,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """ids, positions (T,); mask (T, length + T) bool or None (T = 1, or a causal chain
        when `mask` is None and T > 1). Writes slots [length, length + T); does not advance
        `cache.length` (the caller keeps a path). Returns the final-normed hidden (T, C)."""
        T = ids.shape[0]
        n = cache.length
        S = n + T
        cache.reserve(S)
        H, n_kv, D = self.H, self.n_kv, self.D
        cos, sin = self._rope(positions)
        cos, sin = cos[:, None], sin[:, None]  # (T, 1, D)
        half = D // 2
        if mask is None and T > 1:
            mask = torch.ones(T, S, dtype=torch.bool, device=self.device).tril(n)  # causal chain
        g = H // n_kv
        acc = self.acc
        bias = None  # additive mask: 0 where visible, -inf elsewhere
        if mask is not None:
            bias = torch.zeros(T, S, dtype=acc, device=self.device).masked_fill_(
                ~mask, float("-inf"))  # (T, S)
        x = F.embedding(ids, self.embed)  # (T, C)
        for i, ((n1, _, _, n2, _, _), (qkv_op, o_op, gu_op, down_op)) in enumerate(
                zip(self.layers, self.ops, strict=True)):
            h = rms_norm(x, n1, self.eps)
            qkv = qkv_op(h).view(T, H + 2 * n_kv, D)  # (T, H + 2 H_kv, D)
            qk = qkv[:, :H + n_kv]  # (T, H + H_kv, D): RoPE on queries and keys together
            rot = torch.cat((-qk[..., half:], qk[..., :half]), dim=-1)
            qk = qk * cos + rot * sin
            cache.k[i, :, n:S] = qk[:, H:].transpose(0, 1)  # (H_kv, T, D)
            cache.v[i, :, n:S] = qkv[:, H + n_kv:].transpose(0, 1)
            # GQA as batched matmuls per KV head (NOTE: torch's CPU SDPA kernel costs ~0.2 ms a
            # call at T = 1, more than the arithmetic; plain bmm is ~10x cheaper here), in
            # `acc` (float64 on a CPU): the sums over keys then round to the same float32/bf16
            # bits whichever kernel, row count or tree layout computed them (batch invariance).
            q = (qk[:, :H] * self.scale).view(T, n_kv, g, D).permute(1, 2, 0, 3)  # (H_kv,g,T,D)
            scores = torch.matmul(q.reshape(n_kv, g * T, D).to(acc),
                                  cache.k[i, :, :S].transpose(1, 2))  # (H_kv, g T, S)
            if bias is not None:
                scores = scores.view(n_kv, g, T, S) + bias  # (H_kv, g, T, S)
            probs = torch.softmax(scores, dim=-1).view(n_kv, g * T, S)
            out = torch.matmul(probs, cache.v[i, :, :S])  # (H_kv, g T, D)
            out = out.view(n_kv, g, T, D).permute(2, 0, 1, 3).reshape(T, H * D).to(self.dtype)
            x = x + o_op(out)
            h = rms_norm(x, n2, self.eps)
            gate, up = gu_op(h).chunk(2, dim=-1)  # (T, I) each
            x = x + down_op(F.silu(gate) * up)  # (T, C)
        return rms_norm(x, self.norm, self.eps)

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.exit_block is not None:
            hidden = self.exit_block(hidden)
        logits = self.lm_head_op(hidden)  # (T, V)
        if logits.dtype != torch.float32:
            # NOTE: bf16 logits are rounded to ~3 significant digits, so the top two often tie
            # exactly and argmax's first-index rule then decides on rounding noise. Re-scoring
            # the top 4 in float32 (4 dot products a row) removes those ties; measured on 10
            # prompts x 48 tokens it halved the prompts where a method left plain greedy.
            idx = logits.topk(4, dim=-1).indices  # (T, 4)
            exact = torch.einsum("tkc,tc->tk", self.lm_head[idx].float(), hidden.float())
            logits = logits.float().scatter_(1, idx, exact)  # (T, V) float32
        return logits


@torch.inference_mode()
def batch_invariance_check(engine: LeanLlama, prompt: list[int] | None = None) -> bool:
    """Whether `engine` gives a token the same hidden-state bits in a one-token step as in a
    chain verify and in a tree verify (with wrong siblings in between): 4 plain steps after
    `prompt`, then the same 4 tokens both ways. ~7 forwards; the bench runs it at start-up."""
    from .tree import DraftTree  # tree imports nothing of ours, but keep lean.py standalone

    vocab = engine.config.vocab_size
    prompt = prompt or [(37 * i + 11) % vocab for i in range(24)]
    n = len(prompt)
    cache = engine.new_cache(n + 8)
    engine.forward(torch.tensor(prompt, device=engine.device),
                   torch.arange(n, device=engine.device), cache)
    cache.length = n
    tokens, states, token = [], [], prompt[-1]
    for j in range(4):
        hidden = engine.forward(torch.tensor([token], device=engine.device),
                                torch.tensor([n + j], device=engine.device), cache)
        tokens.append(token)
        states.append(hidden[0].clone())
        cache.keep([0])
        token = int(engine.logits(hidden)[0].argmax())
    cache.truncate(n)
    chain = engine.forward(torch.tensor(tokens, device=engine.device),
                           torch.arange(n, n + 4, device=engine.device), cache)
    others = [(t + 1) % vocab for t in tokens]  # siblings that are not the tokens themselves
    tree = DraftTree([tokens[0], others[1], others[2], tokens[1], others[2], tokens[2], tokens[3]],
                     [-1, 0, 1, 0, 3, 3, 5])
    mask = torch.cat([torch.ones(len(tree), n, dtype=torch.bool), tree.ancestor_mask()], 1)
    nodes = engine.forward(torch.tensor(tree.tokens, device=engine.device),
                           torch.tensor([n + d for d in tree.depths()], device=engine.device),
                           cache, mask.to(engine.device))
    return (all(torch.equal(chain[j], h) for j, h in enumerate(states))
            and all(torch.equal(nodes[i], h) for i, h in zip([0, 3, 5, 6], states, strict=True)))


_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lean_engine(model: Any, dtype: torch.dtype | None = None) -> LeanLlama:
    """One `LeanLlama` per (HF model, dtype), built on first use (fusing copies the weights)."""
    if isinstance(model, LeanLlama):
        return model
    dtype = dtype or model.lm_head.weight.dtype
    per_model = _ENGINES.setdefault(model, {})
    if dtype not in per_model:
        per_model[dtype] = LeanLlama(model, dtype)
    return per_model[dtype]


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX), where oneDNN's bf16
    matmuls are ~2x faster than float32 ones (measured on this project's Zen 4 machine)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(preference: str, device: torch.device) -> torch.dtype:
    """'auto' -> bf16 on a bf16-capable GPU or CPU, else float32; names via llm_shared."""
    if preference == "auto":
        if device.type == "cuda":
            return pick_dtype(device, "auto")
        return torch.bfloat16 if device.type == "cpu" and cpu_has_fast_bf16() else torch.float32
    return pick_dtype(device, preference)
