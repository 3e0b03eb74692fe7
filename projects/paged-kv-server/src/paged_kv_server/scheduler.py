"""Continuous batching: which sequences run in the next forward pass, and how many tokens each.

Every step has a token budget (`max_num_batched_tokens`) and a seat limit (`max_num_seqs`).
1. Running sequences first, oldest first (FCFS): a decoding one costs 1 token, one still in its
   prompt costs the next chunk (chunked prefill), so a long prompt never stalls the decodes.
   If the block manager has no room, the newest running sequence is preempted (its blocks freed,
   recomputed later; its prefix is likely still cached) until the older one fits.
2. Then waiting sequences in arrival order, while budget, seats and blocks last. Admission stops at
   the first one that does not fit, so a long prompt is never starved by later short ones.
Prefill chunks and single decode tokens share one step (mixed batches), as in vLLM V1.
Plain Python, no torch. Leaves out priorities, swapping and speculative decoding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .block_manager import BlockManager
from .sequence import Sequence, SequenceStatus


@dataclass(slots=True)
class ScheduledBatch:
    seqs: list[Sequence] = field(default_factory=list)
    num_new_tokens: list[int] = field(default_factory=list)  # tokens computed for each seq now
    copies: list[tuple[int, int]] = field(default_factory=list)  # CoW (src, dst) block copies
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        return sum(self.num_new_tokens)

    def __bool__(self) -> bool:
        return bool(self.seqs)


class Scheduler:
    def __init__(self, block_manager: BlockManager, *, max_num_seqs: int = 64,
                 max_num_batched_tokens: int = 512, enable_chunked_prefill: bool = True) -> None:
        if max_num_seqs < 1 or max_num_batched_tokens < 1:
            raise ValueError("max_num_seqs and max_num_batched_tokens must be >= 1")
        self.block_manager = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.enable_chunked_prefill = enable_chunked_prefill
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    @property
    def num_unfinished(self) -> int:
        return len(self.waiting) + len(self.running)

    def add(self, seq: Sequence, *, front: bool = False) -> None:
        seq.status = SequenceStatus.WAITING
        if front:
            self.waiting.appendleft(seq)
        else:
            self.waiting.append(seq)

    def _preempt(self, seq: Sequence, batch: ScheduledBatch) -> None:
        self.running.remove(seq)
        self.block_manager.free(seq)
        seq.num_preemptions += 1
        self.num_preemptions += 1
        batch.preempted.append(seq)
        self.add(seq, front=True)

    def _chunk(self, seq: Sequence, budget: int) -> int:
        """Tokens to compute for `seq` this step (0: it must wait)."""
        remaining = seq.num_uncomputed_tokens
        if remaining <= budget:
            return remaining
        return budget if self.enable_chunked_prefill else 0

    def schedule(self) -> ScheduledBatch:
        batch = ScheduledBatch()
        budget = self.max_num_batched_tokens
        bm = self.block_manager
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = self._chunk(seq, budget)
            if n == 0:
                i += 1
                continue
            copies = bm.allocate_slots(seq, n)
            while copies is None:
                victim = self.running[-1]
                self._preempt(victim, batch)
                if victim is seq:
                    break
                copies = bm.allocate_slots(seq, n)
            if copies is None:
                break  # seq itself was preempted; everything after it already was too
            batch.seqs.append(seq)
            batch.num_new_tokens.append(n)
            batch.copies += copies
            budget -= n
            i += 1
        # No admissions in a step that had to preempt: memory is tight, let the running finish.
        while (self.waiting and budget > 0 and not batch.preempted
               and len(self.running) < self.max_num_seqs):
            seq = self.waiting[0]
            fresh = not seq.block_table
            hit = bm.match_prefix(seq) if fresh else 0
            n = self._chunk(seq, budget)
            copies = bm.allocate_slots(seq, n) if n else None
            if copies is None:
                if fresh:  # give back the prefix hits and their stats; it retries next step
                    bm.free(seq)
                    bm.num_queried_tokens -= seq.num_tokens
                    bm.num_hit_tokens -= hit
                    seq.num_cached_tokens = 0
                break
            self.waiting.popleft()
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            batch.seqs.append(seq)
            batch.num_new_tokens.append(n)
            batch.copies += copies
            budget -= n
        return batch

    def finish(self, seq: Sequence, reason: str) -> None:
        """Mark finished and free its blocks at once (also used for aborts)."""
        if seq.is_finished:
            return
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.block_manager.free(seq)
        seq.finish(reason)
