"""Tiled attention with an online softmax (the FlashAttention algorithm), in plain PyTorch.

For each block of Bq queries, walk the keys in blocks of Bk and keep three running quantities per
query row: the max score m, the softmax denominator l, and the unnormalised output acc. A new block
with scores s updates them as

    m' = max(m, rowmax(s));  p = exp(s - m');  c = exp(m - m')
    l' = c * l + rowsum(p);  acc' = c * acc + p @ v

and the output is acc / l after the last block. Only one (Bq, Bk) score tile lives at a time, so the
extra memory is O(Bq * Bk + T * D) instead of the O(Tq * Tk) score matrix.

Causal attention is aligned bottom-right (query i of Tq sees keys j <= i + Tk - Tq), which is what a
decode step or a chunked prefill over a KV cache needs; key blocks entirely above the diagonal are
skipped, so causal work is about half. GQA maps query head h to key/value head h // (H / Hkv)
(transformers' `repeat_kv`) by viewing the queries as (B, Hkv, H/Hkv, T, D), never copying K or V.

This is the algorithm, not a fast kernel: on a CPU, PyTorch's own SDPA is already a fused flash
kernel and beats a Python loop over tiles (see bench/). `naive_attention` materialises the full
score matrix, the baseline whose memory the tiling removes. Leaves out dropout, arbitrary masks
(padding) and the backward pass (autograd goes through the loop, storing each tile).
"""

from __future__ import annotations

import math

import torch
from llm_shared import UserError


def check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> None:
    """One-line UserErrors for shapes the kernel cannot take."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise UserError(
            f"q, k, v must be 4-D (B, H, T, D); got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape != v.shape:
        raise UserError(f"k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape")
    if q.shape[0] != k.shape[0] or q.shape[-1] != k.shape[-1]:
        raise UserError(
            f"q {tuple(q.shape)} and k {tuple(k.shape)} must agree on batch and head dim"
        )
    if q.shape[1] % k.shape[1]:
        raise UserError(
            f"query heads ({q.shape[1]}) must be a multiple of key/value heads ({k.shape[1]})"
        )
    if causal and q.shape[2] > k.shape[2]:
        raise UserError(
            f"causal attention needs Tq <= Tk (got {q.shape[2]} > {k.shape[2]}): the "
            "first queries would see no key"
        )


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    block_q: int = 128,
    block_k: int = 128,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q k^T * scale [+ causal mask]) v, one (block_q, block_k) tile at a time.

    q (B, H, Tq, D); k, v (B, Hkv, Tk, D) with H % Hkv == 0 -> (B, H, Tq, D).
    """
    check_shapes(q, k, v, causal)
    if block_q < 1 or block_k < 1:
        raise UserError(f"block sizes must be >= 1 (got {block_q}, {block_k})")
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    G = H // Hkv
    scale = scale if scale is not None else 1.0 / math.sqrt(D)
    offset = Tk - Tq  # bottom-right causal alignment
    qg = q.reshape(B, Hkv, G, Tq, D)  # query heads grouped under their kv head
    kg, vg = k[:, :, None], v[:, :, None]  # (B, Hkv, 1, Tk, D)
    out = torch.empty_like(qg)  # (B, Hkv, G, Tq, D)
    for i0 in range(0, Tq, block_q):
        i1 = min(i0 + block_q, Tq)
        qb = qg[:, :, :, i0:i1] * scale  # (B, Hkv, G, bq, D)
        m = torch.full((B, Hkv, G, i1 - i0, 1), -math.inf, dtype=q.dtype, device=q.device)
        l = torch.zeros_like(m)  # noqa: E741 (the paper's name)
        acc = torch.zeros_like(qb)  # (B, Hkv, G, bq, D)
        # With causal, the last query of this block sees keys up to i1 - 1 + offset.
        k_end = min(Tk, i1 + offset) if causal else Tk
        for j0 in range(0, k_end, block_k):
            j1 = min(j0 + block_k, k_end)
            s = qb @ kg[:, :, :, j0:j1].transpose(-1, -2)  # (B, Hkv, G, bq, bk)
            if causal and j1 - 1 > i0 + offset:  # the tile crosses the diagonal
                rows = torch.arange(i0, i1, device=q.device)[:, None] + offset  # (bq, 1)
                cols = torch.arange(j0, j1, device=q.device)[None, :]  # (1, bk)
                s = s.masked_fill(cols > rows, -math.inf)
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (B, Hkv, G, bq, 1)
            p = torch.exp(s - m_new)  # (B, Hkv, G, bq, bk)
            correction = torch.exp(m - m_new)  # 0 on the first tile (m = -inf)
            l = correction * l + p.sum(dim=-1, keepdim=True)  # noqa: E741
            acc = correction * acc + p @ vg[:, :, :, j0:j1]  # (B, Hkv, G, bq, D)
            m = m_new
        out[:, :, :, i0:i1] = acc / l
    return out.reshape(B, H, Tq, D)


def naive_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """The textbook path: the whole (Tq, Tk) score matrix materialised, then softmax, then @ v."""
    check_shapes(q, k, v, causal)
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    scale = scale if scale is not None else 1.0 / math.sqrt(D)
    k = k.repeat_interleave(H // Hkv, dim=1)  # (B, H, Tk, D), as repeat_kv
    v = v.repeat_interleave(H // Hkv, dim=1)
    s = (q @ k.transpose(-1, -2)) * scale  # (B, H, Tq, Tk)
    if causal:
        keep = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(Tk - Tq)
        s = s.masked_fill(~keep, -math.inf)
    return torch.softmax(s, dim=-1) @ v  # (B, H, Tq, D)


def sdpa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """PyTorch's fused SDPA with the same conventions (GQA, bottom-right causal): the reference."""
    check_shapes(q, k, v, causal)
    Tq, Tk = q.shape[2], k.shape[2]
    gqa = q.shape[1] != k.shape[1]
    if causal and Tq == Tk:
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, scale=scale, enable_gqa=gqa
        )
    mask = None
    if causal:  # SDPA's is_causal is top-left aligned, so a decode step needs an explicit mask
        mask = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(Tk - Tq)
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=scale, enable_gqa=gqa
    )


def hf_attention_forward(
    module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs
):
    """transformers' AttentionInterface signature -> tiled attention, output (B, T, H, D).

    Registered without a mask function, so transformers passes no mask; a batch could carry padding
    we cannot see, so only batch 1 is accepted through a model.
    """
    if query.shape[0] != 1:
        raise UserError(
            "the tiled attention path runs one sequence at a time (batch 1): "
            "transformers gives it no padding mask; use --attention sdpa for batches"
        )
    block = getattr(module.config, "tiled_block_size", 128)
    out = tiled_attention(
        query,
        key,
        value,
        causal=getattr(module, "is_causal", True),
        block_q=block,
        block_k=block,
        scale=scaling,
    )
    return out.transpose(1, 2).contiguous(), None
