"""Turn a batch of logits into next tokens, one `SamplingParams` per row.

Order (vLLM's): penalties -> greedy argmax, or temperature -> min-p -> top-k -> top-p -> draw.
Draws use the exponential-race trick (argmax p / E, E ~ Exp(1)), which equals sampling from p and
lets each seeded row use its own `torch.Generator`, so a seeded request gives the same text
whatever else shares its batch. Logprobs are of the model's raw distribution (log-softmax of the
logits before any processing), as vLLM reports by default. Leaves out logit bias, bad words,
guided decoding and min_tokens.
"""

from __future__ import annotations

import torch

from .sequence import Sequence


def apply_penalties(logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
    """Repetition (prompt + output, HF rule), presence and frequency (output, OpenAI rule)."""
    rows = [i for i, s in enumerate(seqs) if s.params.needs_penalties]
    for i in rows:
        p = seqs[i].params
        row = logits[i]  # (V,)
        if p.repetition_penalty != 1.0:
            seen = torch.tensor(sorted(set(seqs[i].token_ids)), device=logits.device)
            picked = row[seen]
            row[seen] = torch.where(picked > 0, picked / p.repetition_penalty,
                                    picked * p.repetition_penalty)
        out = seqs[i].output_token_ids
        if out and (p.presence_penalty or p.frequency_penalty):
            counts = torch.bincount(torch.tensor(out, device=logits.device),
                                    minlength=row.shape[0]).to(row.dtype)  # (V,)
            row -= p.frequency_penalty * counts + p.presence_penalty * (counts > 0).to(row.dtype)
    return logits


def filter_probs(probs: torch.Tensor, top_k: int, top_p: float, min_p: float) -> torch.Tensor:
    """probs (V,) -> renormalised probs with the tokens outside min-p / top-k / top-p zeroed."""
    if min_p > 0:
        probs = torch.where(probs < min_p * probs.max(), 0.0, probs)
    if top_k > 0 and top_k < probs.shape[0]:
        kth = torch.topk(probs, top_k).values[-1]
        probs = torch.where(probs < kth, 0.0, probs)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        mass_before = torch.cumsum(sorted_probs, 0) - sorted_probs  # mass of strictly better tokens
        sorted_probs = torch.where(mass_before >= top_p * sorted_probs.sum(), 0.0, sorted_probs)
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return probs / probs.sum()


class Sampler:
    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.seq_generators: dict[int, torch.Generator] = {}

    def _generator(self, seq: Sequence) -> torch.Generator:
        if seq.params.seed is None:
            return self.generator
        gen = self.seq_generators.get(seq.seq_id)
        if gen is None:
            gen = torch.Generator().manual_seed(seq.params.seed + seq.index)
            self.seq_generators[seq.seq_id] = gen
        return gen

    def forget(self, seq: Sequence) -> None:
        self.seq_generators.pop(seq.seq_id, None)

    def __call__(self, logits: torch.Tensor, seqs: list[Sequence]) -> list[int]:
        """logits (S, V) float32 of the rows that sample -> one token id per row.

        Also appends logprobs to `seq.logprobs` for rows that asked for them.
        """
        if any(s.params.logprobs is not None for s in seqs):
            raw_logprobs = torch.log_softmax(logits, dim=-1)  # (S, V)
        if any(s.params.needs_penalties for s in seqs):
            logits = apply_penalties(logits.clone(), seqs)
        tokens = logits.argmax(dim=-1).tolist()  # greedy rows keep these
        for i, seq in enumerate(seqs):
            p = seq.params
            if p.greedy:
                continue
            probs = torch.softmax(logits[i] / p.temperature, dim=-1)  # (V,)
            probs = filter_probs(probs, p.top_k, p.top_p, p.min_p)
            race = torch.empty_like(probs).exponential_(1.0, generator=self._generator(seq))
            tokens[i] = int((probs / race).argmax())
        for i, seq in enumerate(seqs):
            if seq.params.logprobs is None:
                continue
            row = raw_logprobs[i]
            top = {}
            if seq.params.logprobs > 0:
                values, ids = torch.topk(row, seq.params.logprobs)
                top = dict(zip(ids.tolist(), values.tolist(), strict=True))
            seq.logprobs.append({"token_id": tokens[i], "logprob": float(row[tokens[i]]),
                                 "top": top})
        return tokens
