"""The HTTP API through the official `openai` client (streaming and not) and raw HTTP.

One server per module on a free loopback port, tiny-llama engine (milliseconds per step).
"""

import json
import time

import httpx
import openai
import pytest
from paged_kv_server import SamplingParams
from paged_kv_server.server import ServerThread, create_app


@pytest.fixture(scope="module")
def served(request):
    factory = request.getfixturevalue("tiny_engine_module")
    engine = factory()
    app = create_app(engine, model_name="tiny", max_queue=4, default_max_tokens=16)
    with ServerThread(app) as running:
        yield running, engine


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=served[0].url + "/v1", api_key="-", max_retries=0)


def _all_free(url: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(url + "/health").json()
        done = health["running"] == health["waiting"] == 0
        if (done and health["free_blocks"] == health["num_blocks"]) or time.monotonic() > deadline:
            return health
        time.sleep(0.05)


def test_models_and_health(client, served):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert httpx.get(served[0].url + "/health").json()["status"] == "ok"


def test_completion_equals_offline_greedy_with_usage_and_logprobs(client, served):
    engine = served[1]
    ids = engine.tokenizer.encode("The paged cache")
    r = client.completions.create(model="tiny", prompt=ids, max_tokens=8, temperature=0,
                                  logprobs=2)
    choice = r.choices[0]
    assert r.usage.prompt_tokens == len(ids) and r.usage.completion_tokens == 8
    assert r.usage.total_tokens == len(ids) + 8 and choice.finish_reason == "length"
    assert len(choice.logprobs.token_logprobs) == 8
    assert all(len(top) == 2 for top in choice.logprobs.top_logprobs)
    # The same request offline, through a separate engine run: same text.
    offline = type(engine)(engine.config).generate(
        [ids], SamplingParams(temperature=0, max_tokens=8))[0][0]
    assert choice.text == offline.text


def test_chat_streaming_matches_non_streaming(client):
    messages = [{"role": "user", "content": "What is a KV cache?"}]
    full = client.chat.completions.create(model="tiny", messages=messages, max_tokens=12,
                                          temperature=0)
    pieces, usage, reasons = [], None, []
    for chunk in client.chat.completions.create(model="tiny", messages=messages, max_tokens=12,
                                                temperature=0, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            reasons.append(chunk.choices[0].finish_reason)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == full.choices[0].message.content
    assert reasons[-1] == full.choices[0].finish_reason == "length"
    assert usage.completion_tokens == full.usage.completion_tokens == 12
    assert usage.prompt_tokens == full.usage.prompt_tokens


def test_several_prompts_and_n_choices(client):
    r = client.completions.create(model="tiny", prompt=["a b c", "x y"], max_tokens=4, n=2,
                                  temperature=1.0, seed=3)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    assert r.usage.completion_tokens == 16


def test_bad_requests_get_openai_errors(client, served):
    url = served[0].url
    with pytest.raises(openai.BadRequestError) as exc:
        client.completions.create(model="tiny", prompt="hi", temperature=-1)
    assert exc.value.status_code == 400 and "temperature" in exc.value.message
    r = httpx.post(url + "/v1/completions", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and set(r.json()["error"]) >= {"message", "type", "param"}
    r = httpx.post(url + "/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = httpx.post(url + "/v1/completions", json={"prompt": "hi", "echo": True})
    assert r.status_code == 400 and "echo" in r.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-9", prompt="hi", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="max_model_len"):
        client.completions.create(model="tiny", prompt=[5] * 600, max_tokens=2)


def _slow_steps(monkeypatch, engine, seconds=0.01):
    """Give the tiny model a real model's step time, so a 400-token request is still running."""
    step = engine.step

    def slow():
        time.sleep(seconds)
        return step()

    monkeypatch.setattr(engine, "step", slow)


def test_disconnect_mid_stream_frees_blocks(served, monkeypatch):
    url = served[0].url
    _slow_steps(monkeypatch, served[1])
    body = {"prompt": "Tell me a long story", "max_tokens": 400, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", url + "/v1/completions", json=body) as r:
        for n, _ in enumerate(r.iter_lines()):
            if n == 3:  # two events in: the request is running and holds blocks
                busy = httpx.get(url + "/health").json()
                assert busy["free_blocks"] < busy["num_blocks"] and busy["running"] == 1
                break  # leaving the iterator closes the connection: a client disconnect
    health = _all_free(url)
    assert health["free_blocks"] == health["num_blocks"]
    assert health["running"] == health["waiting"] == 0
    assert health["generated_tokens"] - busy["generated_tokens"] < 300  # aborted early


def test_full_queue_answers_429_then_recovers(client, served, monkeypatch):
    url = served[0].url
    _slow_steps(monkeypatch, served[1])
    body = {"prompt": "x", "max_tokens": 300, "stream": True, "ignore_eos": True}
    streams = [httpx.stream("POST", url + "/v1/completions", json=body) for _ in range(4)]
    opened = [s.__enter__() for s in streams]  # 4 in flight = max_queue
    try:
        with pytest.raises(openai.RateLimitError) as exc:
            client.completions.create(model="tiny", prompt="y", max_tokens=2)
        assert exc.value.status_code == 429 and "capacity" in exc.value.message
    finally:
        for s, response in zip(streams, opened, strict=True):
            del response
            s.__exit__(None, None, None)
    _all_free(url)
    assert client.completions.create(model="tiny", prompt="y", max_tokens=2).choices


def test_capacity_counts_every_sample_of_n(client, served):
    """max_queue 4: one request for n = 5 samples would hold 5 sequences' KV blocks."""
    with pytest.raises(openai.RateLimitError) as exc:
        client.completions.create(model="tiny", prompt="y", max_tokens=2, n=5)
    assert "sequences in flight" in exc.value.message
    assert len(client.completions.create(model="tiny", prompt="y", max_tokens=2, n=4,
                                         temperature=1.0).choices) == 4
    _all_free(served[0].url)


def test_metrics_are_prometheus_text(client, served):
    client.completions.create(model="tiny", prompt="metrics", max_tokens=3)
    text = httpx.get(served[0].url + "/metrics").text
    for name in ("paged_kv_num_requests_running", "paged_kv_num_requests_waiting",
                 "paged_kv_kv_cache_usage_perc", "paged_kv_prefix_cache_hit_rate",
                 "paged_kv_time_to_first_token_seconds_bucket",
                 "paged_kv_time_per_output_token_seconds_count"):
        assert name in text
    assert json.loads(json.dumps(text))  # plain text, no binary


def test_non_streaming_client_that_gives_up_frees_blocks(served, monkeypatch):
    url = served[0].url
    _slow_steps(monkeypatch, served[1])
    before = served[1].num_generated_tokens
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + "/v1/completions", timeout=1.0,
                   json={"prompt": "wait for me", "max_tokens": 400, "ignore_eos": True})
    health = _all_free(url)
    assert health["free_blocks"] == health["num_blocks"] and health["running"] == 0
    assert served[1].num_generated_tokens - before < 400  # aborted, not run to the end


def test_chat_logprobs_and_stop_string(client):
    messages = [{"role": "user", "content": "Say something"}]
    r = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6,
                                       temperature=0, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens == 6
    assert all(len(c.top_logprobs) == 2 and c.logprob <= 0 for c in content)
    text = r.choices[0].message.content
    stop = text[len(text) // 2:len(text) // 2 + 2]
    cut = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6,
                                         temperature=0, stop=[stop])
    assert cut.choices[0].message.content == text[:text.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
