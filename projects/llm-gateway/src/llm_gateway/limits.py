"""Token buckets that hold under concurrency: in memory (one lock) and in Redis (one Lua script).

One primitive serves every limit. A bucket has a capacity and a refill rate; it starts full.
    requests per minute: capacity rpm, refill rpm/60 per second, cost 1 per request
    tokens per minute:   capacity tpm, refill tpm/60 per second, cost = estimated tokens
    total token quota:   capacity quota, refill 0, cost = estimated tokens
A request takes from all of its buckets (the key's and the tenant's) in one atomic step: either
every bucket has enough and all are charged, or none is charged and the answer says which bucket
refused and when it will have enough (`Retry-After`, whole seconds, at least 1). After the reply,
`adjust` corrects a token bucket by the difference between the estimate and the real usage.

Redis runs the whole check-and-take as one Lua script, so any number of gateway instances share
exact limits; its clock (`TIME`) is the one clock they all read. The tests drive both limiters with
the same random event sequences and explicit times and require identical answers.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    key: str  # e.g. "rpm:key:12" or "quota:tenant:acme"
    capacity: float
    refill_per_s: float  # 0 for a quota that never refills
    cost: float
    kind: str = "rate"  # "rate" -> 429 rate_limit_exceeded; "quota" -> 429 insufficient_quota


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refused: Bucket | None = None
    retry_after_s: int = 0  # whole seconds until the refusing bucket holds enough (>= 1)


def _retry_after(tokens: float, bucket: Bucket) -> int:
    if bucket.refill_per_s <= 0 or bucket.cost > bucket.capacity:
        return 0  # never: a spent quota, or a request larger than the bucket
    return max(1, math.ceil((bucket.cost - tokens) / bucket.refill_per_s))


class LimiterUnavailable(Exception):
    """The shared limiter (Redis) cannot be reached."""


class MemoryLimiter:
    """Buckets in a dict under one lock: exact within one process."""

    def __init__(self, clock=time.monotonic) -> None:
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._clock = clock

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, at = self._state.get(bucket.key, (bucket.capacity, now))
        return min(bucket.capacity, tokens + max(0.0, now - at) * bucket.refill_per_s)

    async def take(self, buckets: list[Bucket], now: float | None = None) -> Decision:
        with self._lock:
            now = self._clock() if now is None else now
            levels = [self._level(b, now) for b in buckets]
            for bucket, level in zip(buckets, levels, strict=True):
                if level < bucket.cost:
                    return Decision(False, bucket, _retry_after(level, bucket))
            for bucket, level in zip(buckets, levels, strict=True):
                self._state[bucket.key] = (level - bucket.cost, now)
            return Decision(True)

    async def adjust(self, bucket: Bucket, delta: float, now: float | None = None) -> None:
        """Add `delta` tokens back (negative: charge more), never above capacity."""
        with self._lock:
            now = self._clock() if now is None else now
            level = self._level(bucket, now)
            self._state[bucket.key] = (min(bucket.capacity, level + delta), now)

    async def level(self, bucket: Bucket, now: float | None = None) -> float:
        with self._lock:
            return self._level(bucket, self._clock() if now is None else now)

    async def ping(self) -> bool:
        return True


# KEYS: bucket keys. ARGV: now (or "" for Redis TIME), then capacity, refill, cost per bucket.
# Returns {allowed, refusing index (1-based, 0 if none), its level as a string}.
_TAKE = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local levels = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 + (i - 1) * 3])
  local refill = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]), tonumber(state[2])
  if not tokens then tokens = capacity; at = now end
  local level = math.min(capacity, tokens + math.max(0, now - at) * refill)
  if level < cost then
    return {0, i, tostring(level)}
  end
  levels[i] = level
end
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 + (i - 1) * 3])
  local refill = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - cost), 'at', tostring(now))
  if refill > 0 then
    redis.call('PEXPIRE', key, math.ceil(capacity / refill * 1000) + 60000)
  end
end
return {1, 0, ''}
"""

_ADJUST = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local capacity, refill, delta = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if not tokens then tokens = capacity; at = now end
local level = math.min(capacity, tokens + math.max(0, now - at) * refill)
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(capacity, level + delta)), 'at',
           tostring(now))
return tostring(level)
"""


class RedisLimiter:
    """The same buckets in Redis: every instance of the gateway shares them exactly."""

    def __init__(self, url: str, prefix: str = "llm-gateway:") -> None:
        import redis.asyncio as redis  # only when a redis_url is configured

        self._redis = redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._errors = (redis.RedisError, OSError)
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)
        self._adjust = self._redis.register_script(_ADJUST)

    async def take(self, buckets: list[Bucket], now: float | None = None) -> Decision:
        args: list[str] = ["" if now is None else repr(now)]
        for b in buckets:
            args += [repr(float(b.capacity)), repr(float(b.refill_per_s)), repr(float(b.cost))]
        try:
            allowed, index, level = await self._take(
                keys=[self._prefix + b.key for b in buckets], args=args)
        except self._errors as exc:
            raise LimiterUnavailable(str(exc)) from exc
        if allowed:
            return Decision(True)
        bucket = buckets[int(index) - 1]
        return Decision(False, bucket, _retry_after(float(level), bucket))

    async def adjust(self, bucket: Bucket, delta: float, now: float | None = None) -> None:
        args = ["" if now is None else repr(now), repr(float(bucket.capacity)),
                repr(float(bucket.refill_per_s)), repr(float(delta))]
        try:
            await self._adjust(keys=[self._prefix + bucket.key], args=args)
        except self._errors as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def level(self, bucket: Bucket, now: float | None = None) -> float:
        return float(await self._adjust(keys=[self._prefix + bucket.key], args=[
            "" if now is None else repr(now), repr(float(bucket.capacity)),
            repr(float(bucket.refill_per_s)), "0"]))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except self._errors:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
