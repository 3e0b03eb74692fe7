"""Greedy and beam search decoding, with the decoder's KV cache.

With the cache, each step feeds only the newest token: its keys and values join the cached ones,
the encoder's keys and values are projected once. `use_cache=False` recomputes the whole prefix
each step (the reference the tests compare against). Beam search keeps `beam` hypotheses, ranks
finished ones by log-probability / ((5 + length) / 6)^alpha (GNMT's length penalty) and reorders
the cache rows to follow the surviving hypotheses. Left out: sampling (chapter 1.1).
"""

from __future__ import annotations

import torch

from .model import DecoderCache, Transformer
from .tasks import BOS, EOS


@torch.no_grad()
def greedy(model: Transformer, src: torch.Tensor, max_new: int,
           use_cache: bool = True) -> list[list[int]]:
    """src (B, S) -> B lists of generated ids (EOS and what follows cut off)."""
    memory, src_mask = model.encode(src)
    B = src.shape[0]
    generated = torch.full((B, 1), BOS, dtype=torch.long)  # (B, 1)
    cache = DecoderCache() if use_cache else None
    done = torch.zeros(B, dtype=torch.bool)
    for _ in range(max_new):
        feed = generated[:, -1:] if use_cache else generated  # (B, 1) or (B, t)
        logits = model.decode(feed, memory, src_mask, cache)[:, -1]  # (B, V)
        token = logits.argmax(-1)  # (B,)
        generated = torch.cat([generated, token[:, None]], dim=1)
        done |= token == EOS
        if bool(done.all()):
            break
    return [_until_eos(row[1:].tolist()) for row in generated]


def _until_eos(ids: list[int]) -> list[int]:
    return ids[: ids.index(EOS)] if EOS in ids else ids


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Transformer, src: torch.Tensor, beam: int, max_new: int,
                alpha: float = 0.6) -> list[int]:
    """src (1, S) -> the best hypothesis' ids (no EOS)."""
    memory, src_mask = model.encode(src)  # (1, S, d), (1, 1, 1, S)
    cache = DecoderCache()
    hypotheses: list[list[int]] = [[]]
    scores = torch.zeros(1)  # (n,) summed log-probabilities of the live hypotheses
    last = torch.tensor([[BOS]])  # (n, 1)
    finished: list[tuple[float, list[int]]] = []
    for step in range(max_new):
        n = len(hypotheses)
        logits = model.decode(last, memory.expand(n, -1, -1), src_mask.expand(n, -1, -1, -1),
                              cache)[:, -1]  # (n, V)
        candidates = (scores[:, None] + logits.log_softmax(-1)).flatten()  # (n·V,)
        top_scores, top_index = candidates.topk(min(2 * beam, candidates.numel()))
        V = logits.shape[-1]
        keep_rows, keep_tokens, keep_scores = [], [], []
        for score, index in zip(top_scores.tolist(), top_index.tolist(), strict=True):
            row, token = divmod(index, V)
            if token == EOS:
                finished.append((score / length_penalty(step + 1, alpha), hypotheses[row]))
            else:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_scores.append(score)
            if len(keep_rows) == beam:
                break
        if len(finished) >= beam or not keep_rows:
            break
        cache.reorder(torch.tensor(keep_rows))
        hypotheses = [hypotheses[r] + [t] for r, t in zip(keep_rows, keep_tokens, strict=True)]
        scores = torch.tensor(keep_scores)
        last = torch.tensor(keep_tokens)[:, None]
    else:  # out of steps: unfinished hypotheses compete as they are
        finished += [(s / length_penalty(len(h), alpha), h)
                     for s, h in zip(scores.tolist(), hypotheses, strict=True)]
    return max(finished, key=lambda pair: pair[0])[1]
