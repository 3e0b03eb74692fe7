"""The HTTP API, served for real on a free loopback port, including what a hostile client sends."""

import http.client
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from rag_engine.config import ServeConfig
from rag_engine.engine import Engine
from rag_engine.server import make_server


@pytest.fixture
def start(tiny_store):
    path, _ = tiny_store
    engine = Engine.open(str(path), "tiny-bert", "cpu", "tiny-llama")
    servers = []

    def run(**overrides):
        settings = dict(store=str(path), encoder="tiny-bert", model="tiny-llama", port=0,
                        max_new_tokens=4, min_relevance=-1.0)
        settings.update(overrides)
        httpd = make_server(engine, ServeConfig(**settings))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd.server_address[1]

    yield run
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(start):
    return f"http://127.0.0.1:{start()}"


def call(url, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        request = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def raw(port, body: bytes, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/search")
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    conn.send(body)
    reply = conn.getresponse()
    status, payload = reply.status, json.loads(reply.read())
    conn.close()
    return status, payload


def test_health_search_ask(server):
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


def test_ingest_is_off_without_a_root(server, tmp_path):
    (tmp_path / "new.md").write_text("# Zebra\n\nZebras have black and white stripes.")
    status, body = call(server + "/ingest", {"paths": [str(tmp_path / "new.md")]})
    assert status == 403 and "--ingest-root" in json.loads(body)["error"]


def test_ingest_is_confined_to_the_root(start, tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "new.md").write_text("# Zebra\n\nZebras have black and white stripes.")
    (outside / "secret.md").write_text("# Secret\n\nThe password is swordfish.")
    (outside / "list.bin").write_bytes(b"\0")
    url = f"http://127.0.0.1:{start(ingest_root=str(root))}"
    for path in [str(outside / "secret.md"), str(outside), "../outside", "/"]:
        status, body = call(url + "/ingest", {"paths": [path]})
        assert status == 403 and "outside the ingest root" in json.loads(body)["error"], path
    (root / "link.md").symlink_to(outside / "secret.md")  # a symlink inside leading outside
    status, body = call(url + "/ingest", {"paths": ["."]})
    assert status == 403 and "link.md" in json.loads(body)["error"]
    (root / "link.md").unlink()
    status, body = call(url + "/ingest", {"paths": ["new.md"]})
    report = json.loads(body)
    assert status == 200 and report["added"] == 1 and "unsupported" not in report
    status, body = call(url + "/search", {"query": "zebra stripes", "k": 1, "mode": "bm25"})
    assert json.loads(body)["hits"][0]["source"].endswith("new.md")
    status, body = call(url + "/search", {"query": "swordfish password", "k": 1, "mode": "bm25"})
    assert "swordfish" not in body


def test_only_json_bodies_of_bounded_size(start):
    port = start(max_body_kb=1)
    body = json.dumps({"query": "bread"}).encode()
    status, reply = raw(port, body, {"Content-Type": "text/plain",
                                     "Content-Length": str(len(body))})
    assert status == 415 and "application/json" in reply["error"]
    status, reply = raw(port, b"", {"Content-Type": "application/json",
                                    "Content-Length": "4096"})
    assert status == 413 and "1024-byte limit" in reply["error"]
    for bad in ("abc", "-5"):
        status, reply = raw(port, b"", {"Content-Type": "application/json",
                                        "Content-Length": bad})
        assert status == 400, bad
    status, reply = raw(port, body, {"Content-Type": "application/json; charset=utf-8",
                                     "Content-Length": str(len(body))})
    assert status == 200 and reply["hits"]


def test_numbers_are_clamped_and_the_reranker_is_the_operators(start, tiny_store):
    url = f"http://127.0.0.1:{start(max_k=2, max_tokens_cap=3)}"
    status, body = call(url + "/search", {"query": "bread", "k": 10**9, "candidates": 10**9})
    assert status == 200 and len(json.loads(body)["hits"]) == 2
    status, body = call(url + "/search", {"query": "bread", "rerank": "some/hub-model"})
    assert status == 400 and "serve --rerank" in json.loads(body)["error"]
    status, body = call(url + "/search", {"query": "bread", "k": "many"})
    assert status == 400 and "k must be an integer" in json.loads(body)["error"]
    status, body = call(url + "/ask", {"question": "What does bread need?", "stream": True,
                                       "max_new_tokens": 10**6, "min_relevance": -1.0})
    pieces = [json.loads(line) for line in body.splitlines()][:-1]
    assert status == 200 and 1 <= len(pieces) <= 3  # one piece per token at most


def test_a_slow_reader_does_not_hold_the_engine_lock(tiny_store):
    """While a streaming client reads nothing, another request still gets the engine."""
    from http.server import ThreadingHTTPServer

    from rag_engine.server import make_handler

    path, _ = tiny_store
    engine = Engine.open(str(path), "tiny-bert", "cpu", "tiny-llama")
    config = ServeConfig(store=str(path), encoder="tiny-bert", model="tiny-llama", port=0,
                         max_new_tokens=8, min_relevance=-1.0)
    gate = threading.Event()

    class StalledClient(make_handler(engine, config)):
        """Every write of an /ask reply after its headers waits for `gate` (a stalled socket)."""

        def setup(self):
            super().setup()
            real, handler, writes = self.wfile, self, []

            class Writer:
                def write(self, data):
                    writes.append(data)
                    if handler.path == "/ask" and len(writes) > 1:
                        gate.wait(30)
                    return real.write(data)

                def flush(self):
                    real.flush()

            self.wfile = Writer()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StalledClient)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        result = {}
        asker = threading.Thread(target=lambda: result.update(
            ask=call(url + "/ask", {"question": "What does bread need?", "stream": True})))
        asker.start()
        time.sleep(1.0)  # the /ask handler is now stalled writing its first piece
        status, body = call(url + "/search", {"query": "bread", "k": 1}, timeout=10)
        assert status == 200 and json.loads(body)["hits"]
        gate.set()
        asker.join(30)
        assert result["ask"][0] == 200 and "answer" in result["ask"][1].splitlines()[-1]
    finally:
        gate.set()
        httpd.shutdown()
        httpd.server_close()


def test_bad_requests_are_4xx_with_a_message(server):
    assert call(server + "/search", {"k": 2})[0] == 400
    status, body = call(server + "/search", {"query": "x", "where": ["bad"]})
    assert status == 400 and "KEY=GLOB" in json.loads(body)["error"]
    assert call(server + "/nothing", {})[0] == 404
    req = urllib.request.Request(server + "/search", data=b"not json",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=30)
    assert exc.value.code == 400


def test_a_silent_client_is_timed_out(start):
    import socket

    port = start(timeout=0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\n")  # then nothing more
        assert sock.recv(1024) == b""  # the server closed the connection after 0.5 s
