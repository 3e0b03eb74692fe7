"""The command line as a user meets it: keys, a bad config, serve + SIGTERM drain, --help."""

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from llm_gateway.cli import main
from llm_gateway.server import free_port

CLI = [sys.executable, "-c", "from llm_gateway.cli import main; raise SystemExit(main())"]


@pytest.mark.parametrize("command", [[], ["keys"], ["keys", "create"], ["serve"],
                                     ["fake-backend"], ["bench"], ["demo"]])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0


def test_keys_create_list_revoke(tmp_path, capsys):
    db = str(tmp_path / "k.db")
    assert main(["keys", "create", "--db", db, "--tenant", "acme", "--rpm", "5", "--json"]) == 0
    created = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert created["key"].startswith("sk-") and created["tenant"] == "acme"
    assert main(["keys", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"id": created["id"], "tenant": "acme", "prefix": created["key"][:7],
                       "rpm": 5, "tpm": None, "token_quota": None, "revoked": False}]
    assert main(["keys", "revoke", "--db", db, "--id", str(created["id"])]) == 0
    assert main(["keys", "revoke", "--db", db, "--id", "99"]) == 2
    assert "no key with id 99" in capsys.readouterr().err


@pytest.mark.parametrize("toml,message", [
    ('[[backends]]\nname = "a"\nurl = "http://127.0.0.1:1/v1"\n[[routes]]\nmodel = "m"\n'
     'backends = ["b"]\n', "route 'm' names unknown backend(s) ['b']"),
    ('[[backends]]\nname = "a"\nurl = "ftp://x"\n', "backend 'a' has a bad url 'ftp://x'"),
    ('[[backends]]\nname = "a"\nurl = "embedded"\n[[routes]]\nmodel = "m"\nbackends = ["a"]\n'
     '[tenants.acme]\nrpm = -5\n', "[tenants.acme] rpm must be a positive integer (got -5)"),
    ('colour = "blue"\n', "unknown setting(s) ['colour']"),
])
def test_bad_config_is_one_line_before_binding(tmp_path, toml, message):
    config = tmp_path / "gateway.toml"
    config.write_text(toml)
    port = free_port()
    done = subprocess.run([*CLI, "serve", "--config", str(config), "--port", str(port)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_sigterm_drains_open_streams_then_exits(tmp_path, fake_servers):
    backend, app = fake_servers(stream_delay_ms=20)
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(f'db = "k.db"\n[[backends]]\nname = "a"\nurl = "{backend}"\n'
                      '[[routes]]\nmodel = "m"\nbackends = ["a"]\n[cache]\nsemantic = false\n')
    assert main(["keys", "create", "--db", str(tmp_path / "k.db"), "--tenant", "t"]) == 0
    from llm_gateway.keys import KeyStore

    key, _ = KeyStore(tmp_path / "k.db").create("t")
    server = subprocess.Popen([*CLI, "serve", "--config", str(config), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
            time.sleep(0.1)
        received: list[str] = []

        def stream():
            with httpx.stream("POST", url + "/v1/chat/completions", timeout=30,
                              headers={"authorization": f"Bearer {key}"},
                              json={"model": "m", "stream": True, "messages": [
                                  {"role": "user", "content": " ".join(["w"] * 60)}]}) as r:
                received.extend(r.iter_lines())

        reader = threading.Thread(target=stream)
        reader.start()
        while app.state.stats["streams_started"] == 0:
            time.sleep(0.01)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert httpx.get(url + "/ready").status_code == 503
        refused = httpx.post(url + "/v1/completions", headers={"authorization": f"Bearer {key}"},
                             json={"model": "m", "prompt": "x"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
        reader.join(timeout=30)
        assert server.wait(timeout=30) == 0
        assert received[-2:] == ["data: [DONE]", ""] or received[-1] == "data: [DONE]"
        assert app.state.stats["streams_finished"] == 1
    finally:
        if server.poll() is None:
            server.kill()
