"""Scheduler: token budget, chunked prefill, mixed batches, preemption, FCFS (no torch, no model).

`run` below plays the model's part: every scheduled token gets "computed", a sequence that reaches
its end appends a token, and it finishes after `max_tokens`.
"""

import pytest
from paged_kv_server import BlockManager, Scheduler


def step(sched: Scheduler):
    batch = sched.schedule()
    for seq, n in zip(batch.seqs, batch.num_new_tokens, strict=True):
        seq.num_computed_tokens += n
        sched.block_manager.register_computed(seq)
        if seq.num_computed_tokens == seq.num_tokens:
            seq.append_token(7)
            if seq.num_output_tokens >= seq.params.max_tokens:
                sched.finish(seq, "length")
    return batch


def run(sched: Scheduler, limit: int = 1000) -> list:
    batches = []
    while sched.num_unfinished and len(batches) < limit:
        batches.append(step(sched))
    assert not sched.num_unfinished, "the scheduler got stuck"
    return batches


def test_budget_chunks_a_long_prompt_and_mixes_decodes(make_seq):
    sched = Scheduler(BlockManager(64, 4), max_num_seqs=8, max_num_batched_tokens=10)
    short = make_seq(3, start=0, max_tokens=5)
    long = make_seq(25, start=100, max_tokens=2)
    sched.add(short)
    sched.add(long)
    first = step(sched)
    assert first.num_new_tokens == [3, 7]  # short prompt whole, long prompt's first chunk
    second = step(sched)
    assert second.seqs == [short, long] and second.num_new_tokens == [1, 9]  # decode + chunk
    third = step(sched)
    assert third.num_new_tokens == [1, 9]
    assert all(b.num_tokens <= 10 for b in run(sched))
    assert sched.block_manager.num_free_blocks == 64


def test_without_chunking_a_prompt_waits_for_a_fresh_budget(make_seq):
    sched = Scheduler(BlockManager(64, 4), max_num_batched_tokens=10,
                      enable_chunked_prefill=False)
    a, b = make_seq(6, start=0, max_tokens=3), make_seq(6, start=50, max_tokens=3)
    sched.add(a)
    sched.add(b)
    assert step(sched).num_new_tokens == [6]  # b (6) does not fit in the 4 left
    assert step(sched).num_new_tokens == [1, 6]


def test_max_num_seqs_limits_the_batch(make_seq):
    sched = Scheduler(BlockManager(64, 4), max_num_seqs=2, max_num_batched_tokens=100)
    seqs = [make_seq(3, start=10 * i, max_tokens=4) for i in range(5)]
    for s in seqs:
        sched.add(s)
    assert len(step(sched).seqs) == 2
    for batch in run(sched):
        assert len(batch.seqs) <= 2


def test_fcfs_finish_order_for_equal_work(make_seq):
    sched = Scheduler(BlockManager(64, 4), max_num_seqs=2, max_num_batched_tokens=100)
    seqs = [make_seq(3, start=10 * i, max_tokens=3) for i in range(4)]
    for s in seqs:
        sched.add(s)
    finished = []
    while sched.num_unfinished:
        before = {s.seq_id for s in seqs if not s.is_finished}
        step(sched)
        finished += [s for s in seqs if s.is_finished and s.seq_id in before]
    assert finished == seqs


def test_preemption_by_recompute_when_blocks_run_out(make_seq):
    # 6 blocks of 2 tokens = 12 slots; two sequences that each grow to 9 tokens cannot coexist.
    sched = Scheduler(BlockManager(6, 2), max_num_seqs=4, max_num_batched_tokens=32)
    old, new = make_seq(3, start=0, max_tokens=6), make_seq(3, start=50, max_tokens=6)
    sched.add(old)
    sched.add(new)
    batches = run(sched)
    preempted = [s for b in batches for s in b.preempted]
    assert preempted and all(s is new for s in preempted)  # the newest one yields (FCFS)
    assert new.num_preemptions >= 1 and old.num_preemptions == 0
    assert old.num_output_tokens == new.num_output_tokens == 6  # both still complete
    assert sched.block_manager.num_free_blocks == 6


def test_waiting_prompt_is_not_overtaken(make_seq):
    sched = Scheduler(BlockManager(4, 4), max_num_seqs=4, max_num_batched_tokens=64)
    running = make_seq(8, start=0, max_tokens=2)
    big = make_seq(12, start=100, max_tokens=1)  # needs 3 blocks, only 2 free while running
    small = make_seq(2, start=200, max_tokens=1)
    for s in (running, big, small):
        sched.add(s)
    first = step(sched)
    assert first.seqs == [running]  # big does not fit; small must not jump the queue
    run(sched)
    assert sched.block_manager.num_free_blocks == 4


def test_finish_frees_blocks_and_abort_of_waiting(make_seq):
    sched = Scheduler(BlockManager(8, 4))
    a, b = make_seq(5, start=0), make_seq(5, start=50)
    sched.add(a)
    step(sched)
    sched.add(b)
    sched.finish(a, "abort")
    sched.finish(b, "abort")
    assert sched.num_unfinished == 0 and sched.block_manager.num_free_blocks == 8
    assert a.finish_reason == b.finish_reason == "abort"


def test_invalid_limits():
    with pytest.raises(ValueError):
        Scheduler(BlockManager(4, 4), max_num_seqs=0)
