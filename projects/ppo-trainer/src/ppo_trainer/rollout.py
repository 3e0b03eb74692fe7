"""Rollouts: tokenise chat prompts, sample completions through a small `Generator` interface.

`Generator.generate(prompt_ids, prompt_mask, ...) -> response_ids` is the one seam where a faster
engine (vLLM, SGLang, a paged-KV server) can be swapped in; `HFGenerator` calls transformers'
`generate` with its KV cache. `make_rollout` repeats each prompt `group_size` times (GRPO/RLOO
groups; PPO uses group_size 1) and builds the response mask: tokens up to and including the first
EOS count, what follows is padding. Leaves out continuous batching and stop strings.
Exercised by tests/test_rollout.py and every `ppo-trainer train`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from llm_shared import UserError


class Generator(Protocol):
    def generate(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, *,
                 max_new_tokens: int, temperature: float, top_p: float) -> torch.Tensor:
        """Left-padded prompts (B, P) -> sampled response tokens (B, T<=max_new_tokens)."""
        ...


@dataclass
class HFGenerator:
    """transformers' `generate` with the KV cache (use_cache=True), sampling, no top-k cut."""

    model: Any
    eos_token_id: int
    pad_token_id: int

    @torch.no_grad()
    def generate(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, *,
                 max_new_tokens: int, temperature: float, top_p: float) -> torch.Tensor:
        sample = temperature > 0  # temperature 0 means greedy decoding
        out = self.model.generate(
            input_ids=prompt_ids, attention_mask=prompt_mask, max_new_tokens=max_new_tokens,
            do_sample=sample, temperature=temperature if sample else None,
            top_p=top_p if sample else None, top_k=0 if sample else None, use_cache=True,
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id)  # (B, P+T)
        return out[:, prompt_ids.size(1):]  # (B, T)


@dataclass
class Rollout:
    prompt_ids: torch.Tensor  # (B, P) left-padded
    prompt_mask: torch.Tensor  # (B, P)
    response_ids: torch.Tensor  # (B, T) right-padded
    response_mask: torch.Tensor  # (B, T) 1 up to and including the first EOS
    completions: list[str]  # decoded responses, without special tokens
    answers: list  # reference answer of each row's prompt

    def select(self, index: torch.Tensor) -> Rollout:
        rows = index.tolist()
        return Rollout(self.prompt_ids[index], self.prompt_mask[index], self.response_ids[index],
                       self.response_mask[index], [self.completions[i] for i in rows],
                       [self.answers[i] for i in rows])


def response_mask(response_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """1 on tokens up to and including the first EOS; a response without EOS is all real.
    [5, 2, 2, 2] with eos 2 -> [1, 1, 0, 0]."""
    is_eos = response_ids == eos_token_id  # (B, T)
    after_eos = (is_eos.long().cumsum(1) - is_eos.long()) > 0  # (B, T) strictly after first EOS
    return (~after_eos).long()  # (B, T)


def encode_prompts(tokenizer: Any, messages: list, max_prompt_tokens: int,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Chat-template and left-pad the prompts; a prompt longer than the limit is a UserError."""
    texts = [tokenizer.apply_chat_template(list(m), add_generation_prompt=True, tokenize=False)
             for m in messages]
    tokenizer.padding_side = "left"
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    longest = int(enc["attention_mask"].sum(1).max())
    if longest > max_prompt_tokens:
        raise UserError(f"a prompt has {longest} tokens, more than --max-prompt-tokens "
                        f"{max_prompt_tokens}; shorten the prompt or raise the limit (the model's "
                        "context must hold prompt + --max-new-tokens)")
    return enc["input_ids"].to(device), enc["attention_mask"].to(device)


def make_rollout(generator: Generator, tokenizer: Any, messages: list, answers: list, *,
                 group_size: int, max_prompt_tokens: int, max_new_tokens: int,
                 temperature: float, top_p: float, device: torch.device) -> Rollout:
    """Sample `group_size` completions per prompt; rows of one group are consecutive."""
    prompt_ids, prompt_mask = encode_prompts(tokenizer, messages, max_prompt_tokens, device)
    prompt_ids = prompt_ids.repeat_interleave(group_size, dim=0)  # (B*G, P)
    prompt_mask = prompt_mask.repeat_interleave(group_size, dim=0)  # (B*G, P)
    response_ids = generator.generate(prompt_ids, prompt_mask, max_new_tokens=max_new_tokens,
                                      temperature=temperature, top_p=top_p)  # (B*G, T)
    mask = response_mask(response_ids, tokenizer.eos_token_id)  # (B*G, T)
    response_ids = response_ids.masked_fill(mask == 0, tokenizer.pad_token_id)
    completions = tokenizer.batch_decode(response_ids * mask + (1 - mask) * tokenizer.eos_token_id,
                                         skip_special_tokens=True)
    repeated = [a for a in answers for _ in range(group_size)]
    return Rollout(prompt_ids, prompt_mask, response_ids, mask, completions, repeated)
