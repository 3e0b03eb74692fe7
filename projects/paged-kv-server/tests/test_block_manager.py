"""BlockManager: ref counts, prefix cache, copy-on-write, free accounting (no torch, no model)."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from paged_kv_server import BlockManager, SamplingParams, Sequence


def test_allocate_worked_example(make_seq):
    bm = BlockManager(num_blocks=4, block_size=2)
    s = make_seq(3)
    assert bm.allocate_slots(s, 3) == []
    assert s.block_table == [0, 1] and bm.num_free_blocks == 2
    s.num_computed_tokens = 3
    s.append_token(99)  # position 3 still fits block 1
    assert bm.allocate_slots(s, 1) == [] and s.block_table == [0, 1]
    s.num_computed_tokens = 4
    s.append_token(98)  # position 4 needs a third block
    assert bm.allocate_slots(s, 1) == [] and s.block_table == [0, 1, 2]
    bm.free(s)
    assert bm.num_free_blocks == 4 and s.block_table == []


def test_not_enough_blocks_changes_nothing(make_seq):
    bm = BlockManager(num_blocks=2, block_size=2)
    s = make_seq(5)
    assert bm.allocate_slots(s, 5) is None
    assert s.block_table == [] and bm.num_free_blocks == 2


def test_prefix_cache_hit_shares_blocks_and_counts_rate():
    bm = BlockManager(num_blocks=8, block_size=2)
    a = Sequence([1, 2, 3, 4, 5], SamplingParams())
    bm.match_prefix(a)
    bm.allocate_slots(a, 5)
    a.num_computed_tokens = 5
    bm.register_computed(a)  # blocks [1,2] and [3,4] are full and computed
    b = Sequence([1, 2, 3, 4, 9, 9], SamplingParams())
    assert bm.match_prefix(b) == 4
    assert b.block_table == a.block_table[:2]
    assert [bm.blocks[i].ref_count for i in b.block_table] == [2, 2]
    assert bm.prefix_hit_rate == 4 / 11  # 4 hit tokens of 5 + 6 looked up
    c = Sequence([1, 2, 7, 7], SamplingParams())  # shares only the first block
    assert bm.match_prefix(c) == 2


def test_at_least_one_token_is_left_to_compute():
    bm = BlockManager(num_blocks=8, block_size=2)
    a = Sequence([1, 2, 3, 4], SamplingParams())
    bm.allocate_slots(a, 4)
    a.num_computed_tokens = 4
    bm.register_computed(a)
    b = Sequence([1, 2, 3, 4], SamplingParams())
    assert bm.match_prefix(b) == 2  # not 4: the last token's logits are needed


def test_freed_blocks_stay_cached_until_reused_lru(make_seq):
    bm = BlockManager(num_blocks=3, block_size=2)
    a = Sequence([1, 2, 3], SamplingParams())
    bm.allocate_slots(a, 3)
    a.num_computed_tokens = 3
    bm.register_computed(a)
    bm.free(a)
    assert bm.num_free_blocks == 3
    b = Sequence([1, 2, 5], SamplingParams())
    assert bm.match_prefix(b) == 2  # a's first block survived its free
    bm.free(b)
    # Filling the cache with other data evicts the cached block, then no more hits.
    c = make_seq(6, start=100)
    bm.allocate_slots(c, 6)
    bm.free(c)
    d = Sequence([1, 2, 5], SamplingParams())
    assert bm.match_prefix(d) == 0


def test_fork_then_copy_on_write(make_seq):
    bm = BlockManager(num_blocks=6, block_size=4)
    parent = make_seq(6)  # blocks: [full 4][2 of 4]
    bm.allocate_slots(parent, 6)
    parent.num_computed_tokens = 6
    child = Sequence(parent.prompt_token_ids, parent.params)
    bm.fork(parent, child)
    child.num_computed_tokens = 5  # recompute the last prompt token, in its own copy
    assert [bm.blocks[b].ref_count for b in parent.block_table] == [2, 2]
    copies = bm.allocate_slots(child, 1)
    assert copies == [(parent.block_table[1], child.block_table[1])]
    assert child.block_table[0] == parent.block_table[0]  # the full block stays shared
    assert bm.blocks[parent.block_table[1]].ref_count == 1
    parent.append_token(7)
    assert bm.allocate_slots(parent, 1) == []  # parent now owns its block alone: no copy
    bm.free(parent)
    bm.free(child)
    assert bm.num_free_blocks == 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 3), st.booleans()), min_size=1,
                max_size=25), st.integers(0, 10_000))
def test_random_workload_invariants(ops, seed):
    """Whatever the mix of allocations, hits, forks and frees: ref counts equal table
    references, free + used = total, and everything is free at the end."""
    rng = random.Random(seed)
    bm = BlockManager(num_blocks=24, block_size=4)
    live: list[Sequence] = []
    for length, prefix_kind, fork in ops:
        prompt = [prefix_kind] * 8 + [rng.randrange(50) for _ in range(length)]
        s = Sequence(prompt, SamplingParams())
        bm.match_prefix(s)
        if bm.allocate_slots(s, s.num_uncomputed_tokens) is None:
            bm.free(s)
        else:
            s.num_computed_tokens = s.num_tokens
            bm.register_computed(s)
            live.append(s)
            if fork:
                c = Sequence(s.prompt_token_ids, s.params)
                bm.fork(s, c)
                c.num_computed_tokens = c.num_tokens - 1
                if bm.allocate_slots(c, 1) is not None:
                    live.append(c)
                else:
                    bm.free(c)
        if live and rng.random() < 0.4:
            bm.free(live.pop(rng.randrange(len(live))))
        refs = [0] * bm.num_blocks
        for s in live:
            for b in s.block_table:
                refs[b] += 1
        assert refs == [b.ref_count for b in bm.blocks]
        assert bm.num_free_blocks == sum(r == 0 for r in refs)
    for s in live:
        bm.free(s)
    assert bm.num_free_blocks == bm.num_blocks


def test_reset_prefix_cache_forgets_free_blocks_only():
    bm = BlockManager(num_blocks=8, block_size=2)
    a = Sequence([1, 2, 3, 4, 5], SamplingParams())
    bm.match_prefix(a)
    bm.allocate_slots(a, 5)
    a.num_computed_tokens = 5
    bm.register_computed(a)
    held = Sequence([7, 8, 9], SamplingParams())
    bm.match_prefix(held)
    bm.allocate_slots(held, 3)
    held.num_computed_tokens = 3
    bm.register_computed(held)  # block [7, 8] cached and still in use
    bm.free(a)
    bm.reset_prefix_cache()
    again = Sequence([1, 2, 3, 4, 5], SamplingParams())
    assert bm.match_prefix(again) == 0  # a's prefix was only in free blocks: forgotten
    assert bm.match_prefix(Sequence([7, 8, 6], SamplingParams())) == 2  # in use: kept
