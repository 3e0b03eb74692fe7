"""Paged attention in plain PyTorch: write K/V into cache slots, read them back by block table.

The cache of one layer is `(num_blocks, block_size, n_kv, D)`; token t of a sequence lives in slot
`block_table[t // block_size] * block_size + t % block_size`. One forward pass carries a flat batch
of tokens from many sequences (prefill chunks and single decode tokens mixed):
- decode rows (one query each) are attended in one batched call: their block tables gather the
  context into `(B, L, n_kv, D)`, a length mask hides the padding past each context;
- prefill chunks are attended one sequence at a time; a chunk with no cached prefix uses its own
  fresh K/V (causal), a later chunk or a prefix-cache hit gathers its context from the blocks.
Grouped-query attention (n_kv < H) goes through SDPA's `enable_gqa`, without repeating K/V.
Leaves out custom kernels (FlashAttention, PagedAttention CUDA kernels): on a GPU the same
code runs through cuBLAS and SDPA, correct but not vLLM-fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AttentionMetadata:
    slot_mapping: torch.Tensor  # (N,) cache slot of every token in the flat batch
    # Prefill chunks: (first row in the flat batch, query length, context length, block ids)
    prefills: list[tuple[int, int, int, torch.Tensor]]
    decode_rows: torch.Tensor  # (Bd,) rows of the flat batch that are single-token decodes
    decode_block_tables: torch.Tensor  # (Bd, max_blocks) padded with block 0
    decode_mask: torch.Tensor  # (Bd, 1, 1, max_blocks * block_size) True where the key is real


def build_decode_mask(context_lens: list[int], num_keys: int, device: torch.device) -> torch.Tensor:
    lens = torch.tensor(context_lens, device=device)  # (Bd,)
    keys = torch.arange(num_keys, device=device)  # (L,)
    return (keys[None, :] < lens[:, None])[:, None, None, :]  # (Bd, 1, 1, L)


def store_kv(k_cache: torch.Tensor, v_cache: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
             slot_mapping: torch.Tensor) -> None:
    """Write this step's K/V (N, n_kv, D) into the layer cache (num_blocks, bs, n_kv, D)."""
    n_kv, D = k.shape[1], k.shape[2]
    k_cache.view(-1, n_kv, D).index_copy_(0, slot_mapping, k)
    v_cache.view(-1, n_kv, D).index_copy_(0, slot_mapping, v)


def _decode_attention(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
                      block_tables: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
    B, H, D = q.shape
    # NOTE: SDPA over the gathered context measured ~2x faster on this CPU than explicit
    # grouped matmuls + softmax (B=32, L=416, SmolLM2 heads), with equal results.
    k = k_cache[block_tables].flatten(1, 2).transpose(1, 2)  # (B, n_kv, L, D)
    v = v_cache[block_tables].flatten(1, 2).transpose(1, 2)  # (B, n_kv, L, D)
    out = F.scaled_dot_product_attention(q.unsqueeze(2), k, v, attn_mask=mask, scale=scale,
                                         enable_gqa=True)  # (B, H, 1, D)
    return out.reshape(B, H * D)


def _prefill_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       offset: int) -> torch.Tensor:
    """q (T, H, D) at positions offset..offset+T-1; k, v (offset+T, n_kv, D)."""
    T, H, D = q.shape
    S = k.shape[0]
    qh = q.transpose(0, 1).unsqueeze(0)  # (1, H, T, D)
    kh = k.transpose(0, 1).unsqueeze(0)  # (1, n_kv, S, D)
    vh = v.transpose(0, 1).unsqueeze(0)  # (1, n_kv, S, D)
    if offset == 0:
        out = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True, enable_gqa=True)
    else:
        rows = torch.arange(T, device=q.device)[:, None] + offset  # (T, 1)
        allowed = torch.arange(S, device=q.device)[None, :] <= rows  # (T, S)
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed, enable_gqa=True)
    return out[0].transpose(0, 1).reshape(T, H * D)  # (T, H*D)


def paged_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_cache: torch.Tensor,
                    v_cache: torch.Tensor, meta: AttentionMetadata, scale: float) -> torch.Tensor:
    """q (N, H, D), k/v (N, n_kv, D) of the flat batch -> attention output (N, H*D)."""
    store_kv(k_cache, v_cache, k, v, meta.slot_mapping)
    N, H, D = q.shape
    out = q.new_empty(N, H * D)
    for start, length, context, blocks in meta.prefills:
        rows = slice(start, start + length)
        if context == length:  # nothing cached before this chunk: use the fresh K/V directly
            out[rows] = _prefill_attention(q[rows], k[rows], v[rows], 0)
        else:
            kc = k_cache[blocks].flatten(0, 1)[:context]  # (context, n_kv, D)
            vc = v_cache[blocks].flatten(0, 1)[:context]  # (context, n_kv, D)
            out[rows] = _prefill_attention(q[rows], kc, vc, context - length)
    if meta.decode_rows.numel():
        out[meta.decode_rows] = _decode_attention(q[meta.decode_rows], k_cache, v_cache,
                                                  meta.decode_block_tables, meta.decode_mask,
                                                  scale)
    return out
