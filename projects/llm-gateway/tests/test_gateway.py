"""The gateway end to end on loopback, through the official openai client where a user would."""

import asyncio
import json
import time

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

MESSAGES = [{"role": "user", "content": "hello there"}]


def one_route(*urls, weights=None, **extra):
    backends = [{"name": f"b{i}", "url": url, "weight": (weights or [1] * len(urls))[i]}
                for i, url in enumerate(urls)]
    return {"backends": backends, "routes": [{"model": "m", "backends": [b["name"]
                                                                       for b in backends]}],
            **extra}


def client(url, key, **kwargs):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, **kwargs)


def metric(url, name, **labels):
    text = httpx.get(url + "/metrics").text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_openai_client_sync_async_and_stream(fake_servers, build_gateway):
    backend, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend))
    key, _ = keys.create("acme")
    reply = client(url, key).chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.usage.total_tokens == 2 + 3

    async def async_call():
        async_client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        done = await async_client.completions.create(model="m", prompt="a b c")
        await async_client.close()
        return done.choices[0].text

    assert asyncio.run(async_call()) == "echo: a b c"
    stream = client(url, key).chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there" and chunks[-1].usage.completion_tokens == 3
    models = client(url, key).models.list()
    assert [m.id for m in models.data] == ["m"]
    # Streamed usage reaches /metrics: input 2+3+2 words, output 3+4+3 across the three calls.
    assert metric(url, "llm_gateway_tokens_total", tenant="acme", type="output") == 10


def test_errors_arrive_as_openai_exceptions(fake_servers, build_gateway):
    backend, app = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend))
    key, _ = keys.create("acme", rpm=2)  # the backend's 4xx below takes one request too
    with pytest.raises(openai.AuthenticationError):
        client(url, "sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError, match=r"models: \['m'\]"):
        client(url, key).chat.completions.create(model="gpt-9", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):  # the backend's 4xx
        client(url, key).chat.completions.create(model="m", messages=MESSAGES, max_tokens=-1)
    assert app.state.stats["requests"] == 1  # a 4xx is never retried
    client(url, key).chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as raised:
        client(url, key).chat.completions.create(model="m", messages=MESSAGES)
    assert raised.value.response.headers["retry-after"] == "30"  # rpm 2: a token per 30 s
    assert raised.value.body["code"] == "rate_limit_exceeded"


def test_token_quota_is_insufficient_quota(fake_servers, build_gateway):
    backend, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend))
    key, _ = keys.create("acme", token_quota=300)
    # Charged up front: 3 characters / 4 -> 1, plus max_tokens 256; corrected to 2 + 3 used.
    client(url, key).chat.completions.create(model="m", messages=[{"role": "user",
                                                                   "content": "a b"}])
    client(url, key).chat.completions.create(model="m", messages=[{"role": "user",
                                                                   "content": "a b"}])
    with pytest.raises(openai.RateLimitError) as raised:
        client(url, key).chat.completions.create(model="m", messages=MESSAGES, max_tokens=290)
    assert raised.value.body["code"] == "insufficient_quota"
    assert "retry-after" not in raised.value.response.headers


def test_body_checks(fake_servers, build_gateway):
    backend, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend, max_body_bytes=2000))
    key, _ = keys.create("acme")
    auth = {"authorization": f"Bearer {key}"}
    def post(**kw):
        return httpx.post(url + "/v1/chat/completions", headers={**auth, **kw.pop(
            "headers", {})}, **kw)
    assert post(content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert post(json={"model": "m", "messages": [{"role": "user", "content": "x" * 3000}]}
                ).status_code == 413
    assert post(content=b"{not json", headers={"content-type": "application/json"}
                ).status_code == 400
    assert post(json={"model": "m", "messages": "hi"}).json()["error"]["message"] == \
        "`messages` must be a list"


def test_failing_backend_is_hidden_by_fallback_and_its_breaker_opens(fake_servers,
                                                                      build_gateway):
    bad, bad_app = fake_servers(fail_rate=1.0)
    good, good_app = fake_servers()
    gateway, url, keys = build_gateway(one_route(bad, good, circuit_breaker={
        "failures": 2, "cooldown_s": 60}, retry={"attempts": 3, "backoff_s": 0.001}))
    key, _ = keys.create("acme")
    answers = [client(url, key).chat.completions.with_raw_response.create(
        model="m", messages=MESSAGES) for _ in range(6)]
    assert all(a.parse().choices[0].message.content == "echo: hello there" for a in answers)
    assert {a.headers["x-gateway-backend"] for a in answers} == {"b1"}
    assert bad_app.state.stats["requests"] == 2  # then the open breaker kept requests away
    assert gateway.router.breakers["b0"].state == "open"
    assert metric(url, "llm_gateway_backend_up", backend="b0") == 0
    assert metric(url, "llm_gateway_backend_up", backend="b1") == 1
    bad_app.state.fail_rate = 1.0
    good_app.state.fail_rate = 1.0
    with pytest.raises(openai.InternalServerError, match="every backend failed"):
        client(url, key).chat.completions.create(model="m", messages=MESSAGES)


def test_weighted_routing_shares(fake_servers, build_gateway):
    a, a_app = fake_servers()
    b, b_app = fake_servers()
    gateway, url, keys = build_gateway(one_route(a, b, weights=[3, 1]))
    key, _ = keys.create("acme")
    for _ in range(8):
        client(url, key).completions.create(model="m", prompt="x")
    assert (a_app.state.stats["requests"], b_app.state.stats["requests"]) == (6, 2)


def test_refused_backend_falls_back(fake_servers, build_gateway):
    good, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route("http://127.0.0.1:9/v1", good,
                                                 retry={"backoff_s": 0.001}))
    key, _ = keys.create("acme")
    reply = client(url, key).chat.completions.with_raw_response.create(model="m",
                                                                       messages=MESSAGES)
    assert reply.headers["x-gateway-backend"] == "b1"


def _toy_embed(texts):
    import numpy as np

    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, text in enumerate(texts):
        for ch in text:
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_tenant_b_never_gets_tenant_a_cached_answer(fake_servers, build_gateway):
    from llm_gateway.cache import SemanticCache

    backend, app = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend),
                                       cache=SemanticCache(_toy_embed, threshold=0.9))
    key_a, _ = keys.create("tenant-a")
    key_b, _ = keys.create("tenant-b")
    def ask(key, text, **kw):
        return client(url, key).chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": text}], **kw)
    first = ask(key_a, "secret plan for tenant a", temperature=0)
    assert first.headers["x-gateway-cache"] == "miss"
    again = ask(key_a, "Secret plan for tenant A", temperature=0)
    assert again.headers["x-gateway-cache"] == "hit"
    assert again.parse().choices[0].message.content == "echo: secret plan for tenant a"
    other = ask(key_b, "secret plan for tenant a", temperature=0)
    assert other.headers["x-gateway-cache"] == "miss" and app.state.stats["requests"] == 2
    assert ask(key_a, "secret plan for tenant a", temperature=0.7).headers[
        "x-gateway-cache"] == "bypass"
    streamed = client(url, key_a).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "secret plan for tenant a"}],
        temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == \
        "echo: secret plan for tenant a"
    assert metric(url, "llm_gateway_cache_hits_total", tenant="tenant-a") == 2


def test_spans_carry_genai_attributes_and_traceparent_is_forwarded(fake_servers,
                                                                   build_gateway):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    backend, app = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend), tracer_provider=provider)
    key, _ = keys.create("acme")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    client(url, key, default_headers={"traceparent": parent}).chat.completions.create(
        model="m", messages=MESSAGES)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    chat = spans["chat m"]
    assert chat.context.trace_id == int("0af7651916cd43dd8448eb211c80319c", 16)
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "m"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 2
    assert chat.attributes["gen_ai.usage.output_tokens"] == 3
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"]) == ("stop",)
    attempt = spans["attempt b0"]
    assert attempt.parent.span_id == chat.context.span_id
    forwarded = app.state.stats["traceparents"][-1]
    assert forwarded.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert forwarded.split("-")[2] == f"{attempt.context.span_id:016x}"


def test_client_disconnect_cancels_the_upstream_stream(fake_servers, build_gateway):
    backend, app = fake_servers(stream_delay_ms=50)
    gateway, url, keys = build_gateway(one_route(backend))
    key, _ = keys.create("acme")
    long_text = " ".join(["word"] * 200)
    with httpx.stream("POST", url + "/v1/chat/completions", headers={
            "authorization": f"Bearer {key}"}, json={"model": "m", "stream": True, "messages": [
                {"role": "user", "content": long_text}]}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    end = time.monotonic() + 5
    while app.state.stats["streams_cancelled"] == 0 and time.monotonic() < end:
        time.sleep(0.05)
    assert app.state.stats["streams_cancelled"] == 1
    assert app.state.stats["streams_finished"] == 0
    end = time.monotonic() + 5
    while gateway.in_flight and time.monotonic() < end:
        time.sleep(0.05)
    assert gateway.in_flight == 0


def _race(url, keys, trials, limit, concurrency):
    async def trial():
        key, _ = keys.create("race", rpm=limit)
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(*(http.post(
                url + "/v1/completions", headers={"authorization": f"Bearer {key}"},
                json={"model": "m", "prompt": "x", "max_tokens": 1}) for _ in range(concurrency)))
        return sum(a.status_code == 200 for a in answers), {a.status_code for a in answers}

    return [asyncio.run(trial()) for _ in range(trials)]


# The figure is 20 trials; the fast tier runs 4 of them (the rest under -m slow).
TRIALS = [4, pytest.param(20, marks=pytest.mark.slow)]


@pytest.mark.parametrize("trials", TRIALS)
def test_exactly_n_admitted_under_races_in_memory(fake_servers, build_gateway, trials):
    backend, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend))
    results = _race(url, keys, trials=trials, limit=10, concurrency=64)
    assert [admitted for admitted, _ in results] == [10] * trials
    assert all(codes == {200, 429} for _, codes in results)


@pytest.mark.parametrize("trials", TRIALS)
def test_exactly_n_admitted_across_two_instances_on_redis(fake_servers, build_gateway, redis_url,
                                                          tmp_path, trials):
    from llm_gateway.keys import KeyStore

    backend, _ = fake_servers()
    keys = KeyStore(tmp_path / "shared.db")  # both instances read the same key database
    _, url_1, _ = build_gateway(one_route(backend, redis_url=redis_url), keys=keys)
    _, url_2, _ = build_gateway(one_route(backend, redis_url=redis_url), keys=keys)

    async def trial():
        key, _ = keys.create("race", rpm=10)
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(*(http.post(
                (url_1, url_2)[i % 2] + "/v1/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": "m", "prompt": "x", "max_tokens": 1}) for i in range(64)))
        return sum(a.status_code == 200 for a in answers)

    assert [asyncio.run(trial()) for _ in range(trials)] == [10] * trials


def test_redis_down_is_503_or_fail_open(fake_servers, build_gateway):
    backend, _ = fake_servers()
    _, url, keys = build_gateway(one_route(backend, redis_url="redis://127.0.0.1:9/0"))
    key, _ = keys.create("acme", rpm=5)
    with pytest.raises(openai.InternalServerError, match="rate limiter"):
        client(url, key).completions.create(model="m", prompt="x")
    assert httpx.get(url + "/ready").status_code == 503
    _, url, keys = build_gateway(one_route(backend, redis_url="redis://127.0.0.1:9/0",
                                           redis_fail_open=True))
    key, _ = keys.create("acme", rpm=5)
    assert client(url, key).completions.create(model="m", prompt="x").choices[0].text == "echo: x"


def test_log_lines_are_redacted(fake_servers, build_gateway, tmp_path):
    backend, _ = fake_servers()
    gateway, url, keys = build_gateway(one_route(backend, log_path=str(tmp_path / "log.jsonl")))
    key, _ = keys.create("acme")
    client(url, key).chat.completions.create(model="m", messages=[
        {"role": "user", "content": "I am ann@example.org, card 4111 1111 1111 1111"}])
    line = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    text = json.dumps(line)
    assert "ann@example.org" not in text and "4111" not in text
    assert line["request"]["messages"][0]["content"] == "I am [EMAIL], card [CARD]"
    assert line["tenant"] == "acme" and line["backend"] == "b0"


def test_stream_without_backend_usage_is_counted_by_our_tokenizer(fake_servers, build_gateway):
    backend, _ = fake_servers(usage=False)
    gateway, url, keys = build_gateway(one_route(backend))  # test counter: words
    key, _ = keys.create("acme", tpm=1000)
    stream = client(url, key).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "echo: hello there"
    assert metric(url, "llm_gateway_tokens_total", tenant="acme", type="output") == 3
    assert metric(url, "llm_gateway_tokens_total", tenant="acme", type="input") == 2


def test_embedded_smollm2_backend_answers_through_the_openai_client(build_gateway):
    gateway, url, keys = build_gateway({"backends": [{"name": "local", "url": "embedded"}],
                                        "routes": [{"model": "smollm2",
                                                    "backends": ["local"]}]})
    key, _ = keys.create("acme")
    reply = client(url, key).chat.completions.create(
        model="smollm2", temperature=0, max_tokens=8,
        messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in reply.choices[0].message.content
    assert reply.usage.completion_tokens <= 8 and reply.usage.prompt_tokens > 10
    stream = client(url, key).chat.completions.create(
        model="smollm2", temperature=0, max_tokens=8, stream=True,
        messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        reply.choices[0].message.content
