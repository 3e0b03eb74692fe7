"""The batched sampler: prefill the prompt once, repeat its KV cache N times, decode N rows at once.

HF `generate(num_return_sequences=N)` repeats the prompt N times before the prefill, so it pays
N prefills; here the prompt is run once at batch 1 and the cache rows are repeated afterwards, so
every decode step is one forward pass for all N rows. A row stops at EOS or once its text holds
`</answer>` (the checker ignores anything after it); stopped rows ride along until all stop.
Counts what compute is compared by: new tokens per sample and forward passes. Leaves out top-p/top-k
(temperature only) and padding of different prompts into one batch. Exercised by every strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

STOP_TEXT = "</answer>"


@dataclass
class Samples:
    texts: list[str]  # decoded completions, one per sample
    ids: list[list[int]]  # their token ids
    new_tokens: list[int]  # generated tokens per sample (up to and including the stop)
    logprobs: list[float]  # sum of log p(token) under the sampling distribution's model logits
    forward_passes: int  # model calls: 1 prefill + decode steps, each for all N rows at once
    prompt_tokens: int

    @property
    def tokens(self) -> int:
        return sum(self.new_tokens)


def chat_ids(tokenizer: Any, messages: list[dict[str, str]]) -> torch.Tensor:
    """Chat messages as template ids ending with the assistant's turn, shape (1, P)."""
    return tokenizer.apply_chat_template(messages,
                                         add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)["input_ids"]


@torch.inference_mode()
def sample(model: Any, tokenizer: Any, messages: list[dict[str, str]], n: int, *,
           max_new_tokens: int, temperature: float, seed: int = 0) -> Samples:
    """`n` completions of the chat `messages`; temperature 0 is greedy (all rows then agree)."""
    device = next(model.parameters()).device
    ids = chat_ids(tokenizer, messages).to(device)  # (1, P)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = model(input_ids=ids, use_cache=True)
    cache = out.cache
    cache.batch_repeat_interleave(n)  # the one prefill, now N identical rows
    logits = out.logits[:, -1, :].float().expand(n, -1)  # (N, V)
    eos = tokenizer.eos_token_id
    rows: list[list[int]] = [[] for _ in range(n)]
    logprobs = [0.0] * n
    done = [False] * n
    passes = 1
    for step in range(max_new_tokens):
        logp = torch.log_softmax(logits, dim=-1)  # (N, V)
        if temperature > 0:
            probs = torch.softmax(logits / temperature, dim=-1)  # (N, V)
            chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (N,)
        else:
            chosen = logits.argmax(dim=-1)  # (N,)
        picked = logp.gather(1, chosen[:, None]).squeeze(1).tolist()  # (N,)
        for i, token in enumerate(chosen.tolist()):
            if done[i]:
                continue
            rows[i].append(token)
            logprobs[i] += picked[i]
            # the stop text spans a few tokens; decoding the last 8 is enough to see it
            if token == eos or STOP_TEXT in tokenizer.decode(rows[i][-8:]):
                done[i] = True
        if all(done) or step == max_new_tokens - 1:
            break
        feed = torch.tensor([r[-1] for r in rows], device=device)[:, None]  # (N, 1)
        logits = model(input_ids=feed, cache=cache, use_cache=True).logits[:, -1, :]
        logits = logits.float()  # (N, V)
        passes += 1
    texts = [tokenizer.decode(r, skip_special_tokens=True) for r in rows]
    return Samples(texts=texts, ids=rows, new_tokens=[len(r) for r in rows], logprobs=logprobs,
                   forward_passes=passes, prompt_tokens=int(ids.shape[1]))
