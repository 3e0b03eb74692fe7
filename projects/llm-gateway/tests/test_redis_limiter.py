"""The Redis limiter answers exactly as the in-memory one on random event sequences."""

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from llm_gateway.limits import Bucket, MemoryLimiter, RedisLimiter

# Rates and times are binary fractions, so both sides compute exactly (Lua prints 14 digits).
bucket_specs = st.tuples(st.sampled_from([1, 2, 5, 10]), st.sampled_from([0, 0.25, 0.5, 2]),
                         st.sampled_from([1, 2, 3]))
events = st.lists(st.tuples(st.sampled_from(["take", "adjust"]), st.integers(0, 2),
                            st.sampled_from([0, 0.125, 0.5, 1, 4]),
                            st.sampled_from([-2, -1, 1, 3])), min_size=1, max_size=25)


def test_redis_equals_memory_on_random_sequences(redis_url):
    counter = iter(range(10**9))

    @settings(max_examples=60, deadline=None)
    @given(specs=st.lists(bucket_specs, min_size=3, max_size=3), sequence=events)
    def check(specs, sequence):
        run = next(counter)
        buckets = [Bucket(f"eq{run}:{i}", c, r, cost) for i, (c, r, cost) in enumerate(specs)]
        memory = MemoryLimiter()

        async def both():
            redis_limiter = RedisLimiter(redis_url)  # its connections belong to this loop
            now = 0.0
            for kind, index, step, delta in sequence:
                now += step
                chosen = buckets[: index + 1]
                if kind == "take":
                    a = await memory.take(chosen, now=now)
                    b = await redis_limiter.take(chosen, now=now)
                    assert (a.allowed, a.refused, a.retry_after_s) == \
                        (b.allowed, b.refused, b.retry_after_s)
                else:
                    await memory.adjust(buckets[index], delta, now=now)
                    await redis_limiter.adjust(buckets[index], delta, now=now)
                for bucket in buckets:
                    assert await memory.level(bucket, now=now) == \
                        await redis_limiter.level(bucket, now=now)
            await redis_limiter.close()

        asyncio.run(both())

    check()
