"""The HTTP API, served for real on a free loopback port."""

import json
import threading
import urllib.error
import urllib.request

import pytest
from rag_engine.config import ServeConfig
from rag_engine.engine import Engine
from rag_engine.server import make_server


@pytest.fixture
def server(tiny_store):
    path, _ = tiny_store
    engine = Engine.open(str(path), "tiny-bert", "cpu", "tiny-llama")
    config = ServeConfig(store=str(path), encoder="tiny-bert", model="tiny-llama", port=0,
                         max_new_tokens=4, min_relevance=-1.0)
    httpd = make_server(engine, config)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_search_ask_ingest(server, docs_dir, tmp_path):
    status, body = call(server + "/health")
    assert status == 200 and json.loads(body)["chunks"] > 5
    status, body = call(server + "/search", {"query": "bread", "k": 2, "mode": "hybrid"})
    hits = json.loads(body)["hits"]
    assert status == 200 and len(hits) == 2
    assert set(hits[0]) >= {"source", "title", "start", "end", "score", "text"}
    assert "bread" in hits[0]["text"].lower()
    status, body = call(server + "/ask", {"question": "What does bread need?"})
    reply = json.loads(body)
    assert status == 200 and {"answer", "known", "citations"} <= set(reply)
    status, body = call(server + "/ask", {"question": "bread?", "stream": True})
    lines = [json.loads(line) for line in body.splitlines()]
    assert status == 200 and "answer" in lines[-1] and all("text" in x for x in lines[:-1])
    (tmp_path / "new.md").write_text("# Zebra\n\nZebras have black and white stripes.")
    status, body = call(server + "/ingest", {"paths": [str(tmp_path / "new.md")]})
    assert status == 200 and json.loads(body)["added"] == 1
    status, body = call(server + "/search", {"query": "zebra stripes", "k": 1, "mode": "bm25"})
    assert json.loads(body)["hits"][0]["source"].endswith("new.md")


def test_bad_requests_are_400_with_a_message(server):
    assert call(server + "/search", {"k": 2})[0] == 400
    status, body = call(server + "/search", {"query": "x", "where": ["bad"]})
    assert status == 400 and "KEY=GLOB" in json.loads(body)["error"]
    assert call(server + "/nothing", {})[0] == 404
    req = urllib.request.Request(server + "/search", data=b"not json")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=30)
    assert exc.value.code == 400
