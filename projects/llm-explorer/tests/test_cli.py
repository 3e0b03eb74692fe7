"""The command-line contract: subcommands, JSON shapes, one-line errors, the piped chat."""

import io
import json

import pytest
import torch
from llm_explorer.cli import main

COMMANDS = ["generate", "inspect", "probe", "chat", "demo", "bench"]


@pytest.mark.parametrize("command", [None] + COMMANDS)
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(([command] if command else []) + ["--help"])
    assert exc.value.code == 0


@pytest.mark.parametrize("argv,needle", [
    (["generate", "--prompt", "x", "--top-p", "0"], "--top-p must be in (0, 1]"),
    (["generate", "--prompt", "x", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["generate", "--prompt", "x", "--temperature", "-1"], "--temperature must be >= 0"),
    (["generate", "--prompt", "x", "--samplers", "top_k,nucleus"], "unknown sampler stage"),
    (["generate", "--prompt", "x", "--model", "/nonexistent/model-dir"], "cannot load"),
    (["probe", "--out", "o", "--model", "tiny-llama", "--categories", "poetry"],
     "unknown probe categories"),
    (["probe"], "probe needs --out"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and needle in err


def test_generate_json_shape_and_greedy_equals_hf(tiny, capsys):
    assert main(["generate", "--model", "tiny-llama", "--prompt", "Hello world",
                 "--temperature", "0", "--max-tokens", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"text", "token_ids", "finish_reason"}
    ids = tiny.encode("Hello world")
    x = torch.tensor([ids])
    hf = tiny.model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                             max_new_tokens=7, pad_token_id=2)[0, len(ids):].tolist()
    assert out["token_ids"] == hf and out["finish_reason"] == "length"
    assert out["text"] == tiny.tokenizer.decode(hf)


def test_generate_seeded_is_reproducible(capsys):
    argv = ["generate", "--model", "tiny-llama", "--prompt", "Hi", "--chat", "--max-tokens", "6",
            "--temperature", "1.2", "--top-k", "0", "--seed", "7", "--json"]
    runs = []
    for _ in range(2):
        assert main(argv) == 0
        runs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["token_ids"])
    assert runs[0] == runs[1] and len(runs[0]) == 6


def test_inspect_json_is_raw_softmax_sorted(tiny, capsys):
    assert main(["inspect", "--model", "tiny-llama", "--prompt", "Hello", "--top", "5",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"tokens", "entropy"}
    logits = tiny.forward(tiny.encode("Hello"), None)
    probs = logits.softmax(-1)
    top = torch.topk(probs, 5)
    assert [t["id"] for t in out["tokens"]] == top.indices.tolist()
    assert [t["prob"] for t in out["tokens"]] == pytest.approx(top.values.tolist(), abs=1e-7)
    assert out["tokens"][0]["logit"] == pytest.approx(float(logits[top.indices[0]]), abs=1e-6)
    entropy = float(-(probs * probs.log()).sum())
    assert out["entropy"] == pytest.approx(entropy, abs=1e-4)


def test_inspect_steps_html_png(tmp_path, capsys):
    html, png = tmp_path / "v.html", tmp_path / "v.png"
    assert main(["inspect", "--model", "tiny-llama", "--prompt", "Hi", "--steps", "3",
                 "--html", str(html), "--png", str(png)]) == 0
    assert capsys.readouterr().out.count("entropy") == 3
    assert html.read_text().count("<h3>position") == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chat_piped(monkeypatch, tmp_path, capsys):
    save = tmp_path / "c.json"
    script = f"Hello\n/set top_k 5\n/set top_p 7\nHow are you?\n/inspect\n/save {save}\n/reset\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    assert main(["chat", "--model", "tiny-llama", "--max-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "[top_k = 5]" in out and "[not changed: --top-p must be in (0, 1]" in out
    assert "entropy" in out and "[history cleared]" in out
    saved = json.loads(save.read_text())
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"] * 2
    assert saved["sampler"]["top_k"] == 5


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--model", "tiny-llama", "--max-tokens", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    last = json.loads(out[-1])
    assert {"tokens_per_s", "hf_tokens_per_s", "probe_pass_rate", "probe_categories",
            "kv_cache_equal", "seconds"} <= set(last)
    assert last["kv_cache_equal"] is True and len(last["probe_categories"]) == 9
    assert "same tokens as HF greedy: True" in "\n".join(out)


def test_ctrl_c_while_streaming_keeps_history(tiny):
    """The SIGINT handler only sets a flag; the loop stops after the current token and the
    partial reply stays in the history."""
    from llm_explorer import ChatConfig
    from llm_explorer.chat import ChatSession

    class InterruptOnFirstPiece(io.StringIO):
        def write(self, text):
            if text and session.history == [] and not session._interrupted:
                session._on_interrupt(2, None)  # what Ctrl-C does
            return super().write(text)

    out = InterruptOnFirstPiece()
    session = ChatSession(tiny, ChatConfig(model="tiny-llama", temperature=0, max_tokens=20), out)
    session.handle("Tell me a long story")
    assert "[interrupted]" in out.getvalue()
    assert [m["role"] for m in session.history] == ["user", "assistant"]
    assert 0 < len(tiny.tokenizer(session.history[1]["content"])["input_ids"]) < 20
    session.handle("/inspect")  # the REPL goes on with that history
    assert "entropy" in out.getvalue()
