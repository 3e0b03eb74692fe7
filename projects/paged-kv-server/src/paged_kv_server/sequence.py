"""One generation stream: its token ids, how many have KV in the cache, and its block table.

Plain Python, no torch (nano-vllm's rule), so the block manager and scheduler are unit-testable
without a model. A request with `n > 1` owns several sequences; each has its own output.
Leaves out beam search groups and multimodal inputs.
"""

from __future__ import annotations

import time
from enum import Enum, auto
from itertools import count

from .sampling_params import SamplingParams


class SequenceStatus(Enum):
    WAITING = auto()
    RUNNING = auto()
    FINISHED = auto()


class Sequence:
    """Tokens [0, num_computed_tokens) have KV in the blocks of `block_table`; the rest do not yet.

    >>> s = Sequence([5, 6, 7], SamplingParams(max_tokens=2))
    >>> (s.num_tokens, s.num_prompt_tokens, s.num_output_tokens)
    (3, 3, 0)
    """

    _ids = count()

    def __init__(self, token_ids: list[int], params: SamplingParams, *, request_id: str = "",
                 index: int = 0, arrival_time: float | None = None) -> None:
        if not token_ids:
            raise ValueError("a sequence needs at least one prompt token")
        self.seq_id = next(Sequence._ids)
        self.request_id = request_id or f"seq-{self.seq_id}"
        self.index = index  # which of the request's n samples this is
        self.token_ids = list(token_ids)
        self.num_prompt_tokens = len(token_ids)
        self.params = params
        self.status = SequenceStatus.WAITING
        self.num_computed_tokens = 0  # tokens whose K/V are written in the cache
        self.num_cached_tokens = 0  # of those, how many came from the prefix cache (a stat)
        self.block_table: list[int] = []  # logical block i -> physical block id
        self.block_hashes: list[int] = []  # hash chain of the full, computed blocks
        self.finish_reason: str | None = None
        self.logprobs: list[dict] = []  # per output token: {"token_id", "logprob", "top"}
        self.output_text = ""
        self.num_sent_chars = 0  # text already handed to a streaming client
        self.num_preemptions = 0
        self.arrival_time = time.perf_counter() if arrival_time is None else arrival_time
        self.first_token_time: float | None = None
        self.pending_fork = 0  # n > 1: children to fork once the prompt is computed

    def __repr__(self) -> str:
        return (f"Sequence(id={self.seq_id}, tokens={self.num_tokens}, "
                f"computed={self.num_computed_tokens}, blocks={self.block_table})")

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens:]

    @property
    def prompt_token_ids(self) -> list[int]:
        return self.token_ids[:self.num_prompt_tokens]

    @property
    def is_finished(self) -> bool:
        return self.status == SequenceStatus.FINISHED

    @property
    def num_uncomputed_tokens(self) -> int:
        return self.num_tokens - self.num_computed_tokens

    def append_token(self, token_id: int) -> None:
        self.token_ids.append(token_id)

    def finish(self, reason: str) -> None:
        self.status = SequenceStatus.FINISHED
        self.finish_reason = reason
