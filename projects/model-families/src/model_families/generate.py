"""One generation loop for every decoder here: GPT-2 and Llama directly, T5 through its decoder.

Prefill the prompt once (for T5: encode it once, then start the decoder from
`decoder_start_token_id`), then feed one token at a time with the KV cache, so step n costs one
position instead of n. Greedy by default; sampling applies temperature -> top-k -> top-p, the
order and the masking transformers uses, so a seeded run draws the same tokens as HF `generate`.
Leaves out beam search, repetition penalties and batches of different lengths (batch size 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .layers import KVCache


@dataclass
class Sampling:
    """temperature 0 = greedy; top_k 0 and top_p 1.0 switch those filters off."""
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Temperature, then top-k, then top-p (nucleus), as HF's warpers do; removed = -inf.

    e.g. top_p 0.5 over probabilities [0.6, 0.3, 0.1] keeps only the first token.
    """
    logits = logits / s.temperature  # (B, V)
    if s.top_k > 0:
        kth = torch.topk(logits, min(s.top_k, logits.shape[-1])).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False)  # (B, V) ascending
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative <= 1 - s.top_p
        drop[..., -1:] = False  # always keep the most likely token
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def next_token(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """logits (B, V) of the last position -> token ids (B, 1)."""
    if s.temperature <= 0:
        return logits.argmax(-1, keepdim=True)
    probs = filter_logits(logits, s).softmax(-1)
    return torch.multinomial(probs, num_samples=1)


@torch.inference_mode()
def generate(model: torch.nn.Module, ids: torch.Tensor, max_new_tokens: int,
             eos_id: int | list[int] | None = None, sampling: Sampling | None = None
             ) -> list[int]:
    """Prompt ids (1, T) -> the new token ids (stopping after an end-of-sequence id)."""
    if ids.shape[0] != 1:
        raise ValueError("generate takes one prompt at a time (batch size 1)")
    sampling = sampling or Sampling()
    stop = set([eos_id] if isinstance(eos_id, int) else (eos_id or []))
    if model.family == "t5":
        memory, _ = model.encode(ids)  # (1, S, C), computed once
        cache = KVCache(len(model.decoder.layers))
        step = lambda x: model.decode(x, memory, cache, last_only=True)[0]  # noqa: E731
        x = torch.tensor([[model.cfg.decoder_start_id]], device=ids.device)
    else:
        cache = KVCache(len(model.layers))
        step = lambda x: model(x, cache, last_only=True)[0]  # noqa: E731
        x = ids
    out: list[int] = []
    for _ in range(max_new_tokens):
        token = next_token(step(x)[:, -1], sampling)  # (1, 1)
        out.append(int(token))
        if out[-1] in stop:
            break
        x = token
    return out
