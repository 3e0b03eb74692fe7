"""`compare`: run one folder through our code and through transformers on the same inputs.

The inputs are fixed (seeded) token ids, two sequences of 12; T5 also gets 7 decoder ids and BERT
gets token types 0 then 1 so the segment embedding matters. Reports the largest |difference| of
the logits (for a head-less BertModel: of the last hidden states) and of every hidden state, the
parameter count and the median forward time of each side (alternating, `llm_shared.compare`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from llm_shared import compare as time_both
from torch import nn

from .families import Loaded, load, load_hf

TOLERANCE = 1e-4  # float32 reference: reordered sums differ by ~1e-6, real bugs by > 1e-3


def fixed_inputs(loaded: Loaded, batch: int = 2, length: int = 12) -> dict[str, torch.Tensor]:
    """Seeded token ids in [5, vocab) (clear of the usual special ids) for each model input."""
    vocab = loaded.model.cfg.vocab_size
    gen = torch.Generator().manual_seed(0)
    inputs = {"input_ids": torch.randint(min(5, vocab - 1), vocab, (batch, length), generator=gen)}
    if loaded.family == "t5":
        inputs["decoder_input_ids"] = torch.randint(min(5, vocab - 1), vocab, (batch, 7),
                                                    generator=gen)
    if loaded.family == "bert" and loaded.model.cfg.n_types > 1:
        types = torch.zeros_like(inputs["input_ids"])
        types[:, length // 2:] = 1  # second half is segment B
        inputs["token_type_ids"] = types
    return inputs


def run_ours(loaded: Loaded, inputs: dict[str, torch.Tensor]
             ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    ids = inputs["input_ids"]
    with torch.inference_mode():
        if loaded.family == "t5":
            return loaded.model(ids, inputs["decoder_input_ids"])
        if loaded.family == "bert":
            return loaded.model(ids, inputs.get("token_type_ids"))
        return loaded.model(ids)


def run_hf(hf: nn.Module, family: str, inputs: dict[str, torch.Tensor]
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    with torch.inference_mode():
        out = hf(**inputs, output_hidden_states=True)
    if family == "t5":
        return out.logits, list(out.encoder_hidden_states) + list(out.decoder_hidden_states)
    logits = out.logits if hasattr(out, "logits") else out.last_hidden_state
    return logits, list(out.hidden_states)


def n_params(model: nn.Module) -> int:
    """Distinct parameters (a tied head counts once), as transformers' num_parameters()."""
    return sum(p.numel() for p in model.parameters())


def max_diffs(ours: tuple[torch.Tensor, list[torch.Tensor]],
              ref: tuple[torch.Tensor, list[torch.Tensor]]) -> tuple[float, float]:
    (logits, hidden), (ref_logits, ref_hidden) = ours, ref
    if logits.shape != ref_logits.shape or len(hidden) != len(ref_hidden):
        raise AssertionError(f"shapes differ: ours {tuple(logits.shape)} x {len(hidden)} hidden, "
                             f"HF {tuple(ref_logits.shape)} x {len(ref_hidden)}")
    logit_diff = (logits - ref_logits).abs().max().item()
    hidden_diff = max((a - b).abs().max().item() for a, b in zip(hidden, ref_hidden, strict=True))
    return logit_diff, hidden_diff


def compare_folder(model: str | Path, repeats: int = 3) -> dict[str, Any]:
    loaded = load(model)
    hf = load_hf(loaded.folder, loaded.family)
    inputs = fixed_inputs(loaded)
    logit_diff, hidden_diff = max_diffs(run_ours(loaded, inputs), run_hf(hf, loaded.family, inputs))
    timing = time_both(lambda: run_ours(loaded, inputs), lambda: run_hf(hf, loaded.family, inputs),
                       repeats=repeats, names=("ours", "hf"))
    return {"model": str(model), "family": loaded.family, "max_abs_logit_diff": logit_diff,
            "max_abs_hidden_diff": hidden_diff, "ok": max(logit_diff, hidden_diff) <= TOLERANCE,
            "params": n_params(loaded.model), "ours_s": round(timing.median_a, 6),
            "hf_s": round(timing.median_b, 6)}
