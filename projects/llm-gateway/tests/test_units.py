"""The pieces without a server: keys, token buckets, the router, redaction, the cache rule."""

import asyncio

import numpy as np
import pytest
from llm_gateway.cache import SemanticCache, normalise
from llm_gateway.keys import KeyStore, hash_key
from llm_gateway.limits import Bucket, MemoryLimiter
from llm_gateway.redact import luhn_ok, redact
from llm_gateway.router import CircuitBreaker, Router, SmoothWRR
from llm_shared import UserError


def run(coro):
    return asyncio.run(coro)


def test_keys_are_stored_only_as_hashes_and_revocable(tmp_path):
    store = KeyStore(tmp_path / "k.db")
    key, record = store.create("acme", rpm=5)
    assert key.startswith("sk-") and len(key) > 40 and record.tenant == "acme"
    raw = (tmp_path / "k.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("k.db-*"))
    assert key.encode() not in raw and hash_key(key).encode() in raw
    assert store.authenticate(key).id == record.id
    assert store.authenticate(key + "x") is None and store.authenticate(None) is None
    store.revoke(record.id)
    assert store.authenticate(key) is None
    with pytest.raises(UserError, match="--rpm must be a positive integer"):
        store.create("acme", rpm=0)


def test_bucket_worked_example():
    # capacity 2, refill 1 token per 2 s: two pass, the third waits 2 s, half a token after 1 s.
    limiter = MemoryLimiter()
    bucket = Bucket("rpm:k", capacity=2, refill_per_s=0.5, cost=1)
    answers = [run(limiter.take([bucket], now=t)) for t in (0.0, 0.0, 0.0, 1.0, 2.0)]
    assert [a.allowed for a in answers] == [True, True, False, False, True]
    assert [a.retry_after_s for a in answers[2:4]] == [2, 1]


def test_take_is_all_or_nothing():
    limiter = MemoryLimiter()
    rpm = Bucket("rpm:k", 10, 0, 1)
    tpm = Bucket("tpm:k", 100, 0, 60)
    assert run(limiter.take([rpm, tpm], now=0)).allowed
    refused = run(limiter.take([rpm, tpm], now=0))
    assert not refused.allowed and refused.refused == tpm and refused.retry_after_s == 0
    assert run(limiter.level(rpm, now=0)) == 9  # the refused request took no request token


def test_adjust_refunds_the_estimate_up_to_capacity():
    limiter = MemoryLimiter()
    tpm = Bucket("tpm:k", 100, 0, 80)
    run(limiter.take([tpm], now=0))
    run(limiter.adjust(tpm, 80 - 30, now=0))  # estimated 80, used 30
    assert run(limiter.level(tpm, now=0)) == 70
    run(limiter.adjust(tpm, 500, now=0))
    assert run(limiter.level(tpm, now=0)) == 100


def test_smooth_wrr_sequence():
    wrr = SmoothWRR({"a": 5, "b": 1, "c": 1})
    assert "".join(wrr.pick() for _ in range(7)) == "aabacaa"
    assert wrr.pick({"b", "c"}) in {"b", "c"}


def test_breaker_opens_half_opens_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    breaker.on_failure()
    assert breaker.state == "closed"
    breaker.on_failure()
    assert breaker.state == "open" and not breaker.admits()
    now[0] = 10.0
    assert breaker.state == "half-open" and breaker.admits()
    breaker.on_attempt()
    assert not breaker.admits()  # one trial at a time
    breaker.on_failure()
    assert breaker.state == "open"  # the failed trial restarts the cooldown
    now[0] = 20.0
    breaker.on_attempt()
    breaker.on_success()
    assert breaker.state == "closed"


def test_router_skips_open_backends():
    now = [0.0]
    router = Router({"m": ["a", "b"]}, {"a": 1, "b": 1}, failures_to_open=1, clock=lambda: now[0])
    router.breakers["a"].on_failure()
    assert [router.next_backend("m") for _ in range(3)] == ["b", "b", "b"]
    assert router.next_backend("m", exclude={"b"}) == "b"  # nothing else admits a request


@pytest.mark.parametrize("text,expected", [
    ("mail bob.smith+x@example.co.uk now", "mail [EMAIL] now"),
    ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
    ("order 4111 1111 1111 1112 ok", "order 4111 1111 1111 1112 ok"),  # fails Luhn: not a card
    ("call +1 415-555-2671 today", "call [PHONE] today"),
    ("from 192.168.10.7 and ::1", "from [IP] and [IP]"),
    ("key sk-abcdefghijklmnopqrstuvwx in logs", "key [KEY] in logs"),
    ("version 3.11 has 42 modules", "version 3.11 has 42 modules"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_luhn():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def _toy_embed(texts):
    # Bag of letters, unit length: enough to tell near-identical strings from different ones.
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, text in enumerate(texts):
        for ch in text:
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_cache_never_crosses_tenants_and_expires():
    now = [0.0]
    cache = SemanticCache(_toy_embed, threshold=0.9, ttl_s=60, max_entries=2,
                          clock=lambda: now[0])
    question = [{"role": "user", "content": "How do I reverse a list?"}]
    cache.store("a", "m", question, {"answer": "A"})
    assert cache.lookup("b", "m", question) is None
    assert cache.lookup("a", "other-model", question) is None
    hit = cache.lookup("a", "m", [{"role": "user", "content": "how do i  REVERSE a list"}])
    assert hit.response == {"answer": "A"} and hit.similarity == 1.0  # normalised: exact
    assert cache.lookup("a", "m", [{"role": "user", "content": "What is a tuple?"}]) is None
    now[0] = 61.0
    assert cache.lookup("a", "m", question) is None and len(cache) == 0


def test_cache_lru_cap():
    cache = SemanticCache(_toy_embed, max_entries=2)
    for word in ("alpha", "bravo", "charlie"):
        cache.store("t", "m", [{"role": "user", "content": word}], {"w": word})
    assert len(cache) == 2
    assert cache.lookup("t", "m", [{"role": "user", "content": "alpha"}]) is None


def test_normalise():
    assert normalise([{"role": "user", "content": " Hi  THERE "}]) == "user: hi there"


def test_content_words_and_guard():
    from llm_gateway.cache import content_words, same_intent

    assert content_words("How do I sort a dict by its values?") == ["sort", "dictionary", "value"]
    assert same_intent("how do I reverse a python list", "How do I reverse a list in Python?")
    assert not same_intent("convert a string to an integer", "convert an integer to a string")
    assert not same_intent("sort a dictionary by key", "sort a dictionary by value")
