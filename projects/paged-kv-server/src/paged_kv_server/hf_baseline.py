"""The peer: Hugging Face `generate`, one request at a time and on left-padded batches.

Both use greedy decoding, the same max_new_tokens and stop at EOS, like the engine; generated
tokens are counted up to and including EOS (padding after it is not counted). The padded batch is
the static batching that continuous batching improves on: every row waits for the slowest one.
Exercised by `tests/test_equivalence.py`, `bench/bench_offline.py` and the demo.
"""

from __future__ import annotations

from typing import Any

import torch


def trim_at_eos(ids: list[int], eos: set[int]) -> list[int]:
    for i, token in enumerate(ids):
        if token in eos:
            return ids[:i + 1]
    return ids


def _eos_set(model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


@torch.inference_mode()
def hf_generate_sequential(model: Any, prompts: list[list[int]],
                           max_new_tokens: int) -> list[list[int]]:
    """One `generate` call per prompt -> the new token ids of each (trimmed after EOS)."""
    eos = _eos_set(model)
    outputs = []
    for ids in prompts:
        x = torch.tensor([ids], device=model.device)  # (1, T)
        out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=min(eos))
        outputs.append(trim_at_eos(out[0, len(ids):].tolist(), eos))
    return outputs


@torch.inference_mode()
def hf_generate_padded(model: Any, prompts: list[list[int]], max_new_tokens: int,
                       batch_size: int) -> list[list[int]]:
    """`generate` on left-padded batches of `batch_size` prompts, in the given order."""
    eos = _eos_set(model)
    pad = min(eos)
    outputs = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk], device=model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk],
                            device=model.device)  # (B, T)
        out = model.generate(ids, attention_mask=mask, do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=pad)
        outputs += [trim_at_eos(row[width:].tolist(), eos) for row in out]
    return outputs
