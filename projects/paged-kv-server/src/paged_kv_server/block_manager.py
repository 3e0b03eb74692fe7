"""The paged KV cache's bookkeeping: fixed-size blocks, reference counts, prefix cache, CoW.

Physical block b holds the K/V of `block_size` consecutive tokens of whoever's table points to it.
- Reference counts: a block is shared by every sequence whose table lists it (a cached prefix,
  or the prompt of `n > 1` samples after `fork`); it returns to the free list at ref count 0.
- Prefix caching (vLLM's automatic prefix caching, SGLang's radix idea at block granularity): a
  full, computed block is registered under hash(previous block's hash, its token ids). A new
  sequence reuses the longest chain of registered blocks whose ids match. Freed blocks keep their
  hash until they are handed out again (least recently freed first), so later requests still hit.
- Copy-on-write: before a sequence writes into a block that others share, it gets a private copy;
  `allocate_slots` returns the (src, dst) pairs the model runner must copy.
Plain Python, no torch. Leaves out swapping to host memory and multi-tier caches.
"""

from __future__ import annotations

from collections import OrderedDict

from .sequence import Sequence


def block_hash(token_ids: tuple[int, ...], prefix_hash: int | None) -> int:
    """Chained hash: equal hashes mean equal tokens *and* equal prefix (ids are verified too)."""
    return hash((prefix_hash, token_ids))


class Block:
    __slots__ = ("block_id", "ref_count", "hash", "token_ids")

    def __init__(self, block_id: int) -> None:
        self.block_id = block_id
        self.ref_count = 0
        self.hash: int | None = None
        self.token_ids: tuple[int, ...] = ()


class BlockManager:
    """Hands out physical blocks to sequences.

    >>> bm = BlockManager(num_blocks=4, block_size=2)
    >>> s = Sequence([1, 2, 3], SamplingParams())
    >>> bm.allocate_slots(s, 3), s.block_table, bm.num_free_blocks
    ([], [0, 1], 2)
    """

    def __init__(self, num_blocks: int, block_size: int,
                 enable_prefix_caching: bool = True) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ValueError("num_blocks and block_size must be >= 1")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        # Insertion order = order of freeing: popping from the front evicts the least recently
        # freed block first (LRU over cached prefixes).
        self.free_blocks: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))
        self.hash_to_block: dict[int, int] = {}
        self.num_queried_tokens = 0
        self.num_hit_tokens = 0

    # -- accounting ---------------------------------------------------------------------------
    @property
    def num_free_blocks(self) -> int:
        return len(self.free_blocks)

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - len(self.free_blocks)

    @property
    def usage(self) -> float:
        return self.num_used_blocks / self.num_blocks

    @property
    def prefix_hit_rate(self) -> float:
        """Prompt tokens served from the cache / prompt tokens looked up (0 before any lookup)."""
        return self.num_hit_tokens / self.num_queried_tokens if self.num_queried_tokens else 0.0

    # -- allocation ---------------------------------------------------------------------------
    def _take_free_block(self) -> int:
        block_id, _ = self.free_blocks.popitem(last=False)
        block = self.blocks[block_id]
        if block.hash is not None and self.hash_to_block.get(block.hash) == block_id:
            del self.hash_to_block[block.hash]  # evicted from the prefix cache
        block.hash, block.token_ids, block.ref_count = None, (), 1
        return block_id

    def _share(self, block_id: int) -> None:
        block = self.blocks[block_id]
        if block.ref_count == 0:
            del self.free_blocks[block_id]  # a cached block comes back to life
        block.ref_count += 1

    def match_prefix(self, seq: Sequence) -> int:
        """Point a fresh sequence at the cached blocks of its longest registered prefix.

        At least one token is always left to compute, since its logits are needed. Returns the
        number of tokens served from the cache (also set as `seq.num_computed_tokens`).
        """
        assert not seq.block_table and seq.num_computed_tokens == 0
        self.num_queried_tokens += seq.num_tokens
        if not self.enable_prefix_caching:
            return 0
        bs = self.block_size
        prefix: int | None = None
        for i in range((seq.num_tokens - 1) // bs):
            ids = tuple(seq.token_ids[i * bs:(i + 1) * bs])
            h = block_hash(ids, prefix)
            block_id = self.hash_to_block.get(h)
            if block_id is None or self.blocks[block_id].token_ids != ids:
                break
            self._share(block_id)
            seq.block_table.append(block_id)
            seq.block_hashes.append(h)
            prefix = h
        hit = len(seq.block_table) * bs
        seq.num_computed_tokens = seq.num_cached_tokens = hit
        self.num_hit_tokens += hit
        return hit

    def allocate_slots(self, seq: Sequence, num_new_tokens: int) -> list[tuple[int, int]] | None:
        """Make positions [num_computed, num_computed + num_new) writable by `seq`.

        New blocks are appended; a shared block in that range is replaced by a private copy.
        Returns the (src, dst) block copies to perform, or None (and changes nothing) when there
        are not enough free blocks.
        """
        start = seq.num_computed_tokens
        end = start + num_new_tokens
        first, last = start // self.block_size, (end - 1) // self.block_size
        shared = [i for i in range(first, min(last + 1, len(seq.block_table)))
                  if self.blocks[seq.block_table[i]].ref_count > 1]
        needed = max(0, last + 1 - len(seq.block_table)) + len(shared)
        if needed > self.num_free_blocks:
            return None
        copies = []
        for i in shared:
            src = seq.block_table[i]
            self.blocks[src].ref_count -= 1  # still > 0: the other owners keep it
            dst = self._take_free_block()
            seq.block_table[i] = dst
            copies.append((src, dst))
        while len(seq.block_table) <= last:
            seq.block_table.append(self._take_free_block())
        return copies

    def register_computed(self, seq: Sequence) -> None:
        """Publish the sequence's newly full, computed blocks to the prefix cache."""
        if not self.enable_prefix_caching:
            return
        bs = self.block_size
        for i in range(len(seq.block_hashes), seq.num_computed_tokens // bs):
            ids = tuple(seq.token_ids[i * bs:(i + 1) * bs])
            h = block_hash(ids, seq.block_hashes[-1] if seq.block_hashes else None)
            block = self.blocks[seq.block_table[i]]
            if block.hash is None:
                block.hash, block.token_ids = h, ids
                self.hash_to_block.setdefault(h, block.block_id)
            seq.block_hashes.append(h)

    def reset_prefix_cache(self) -> None:
        """Forget every cached prefix held only by free blocks (a benchmark's repeats must not
        reuse the previous repeat's prompts)."""
        for block_id in self.free_blocks:
            block = self.blocks[block_id]
            if block.hash is not None and self.hash_to_block.get(block.hash) == block_id:
                del self.hash_to_block[block.hash]
            block.hash, block.token_ids = None, ()

    def fork(self, parent: Sequence, child: Sequence) -> None:
        """`child` shares all of `parent`'s blocks (ref counts up); writes will copy-on-write."""
        for block_id in parent.block_table:
            self._share(block_id)
        child.block_table = list(parent.block_table)
        child.block_hashes = list(parent.block_hashes)

    def free(self, seq: Sequence) -> None:
        """Drop the sequence's references; blocks at ref count 0 go back to the free list.

        The tail is freed first so that it is also evicted first: a prompt's leading blocks are
        the ones other requests are likeliest to share.
        """
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            assert block.ref_count >= 0, f"block {block_id} freed twice"
            if block.ref_count == 0:
                self.free_blocks[block_id] = None
        seq.block_table = []
        seq.block_hashes = []
        seq.num_computed_tokens = 0
