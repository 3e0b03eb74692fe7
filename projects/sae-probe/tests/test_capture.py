"""Hook points, capture into shards, resume, and the store's checks."""

import importlib
import json

import numpy as np
import pytest
import torch
from llm_shared import UserError
from sae_probe.capture import bos_id, capture, doc_windows
from sae_probe.hooks import capture_hook, edit_hook, parse_hook, run_until_hook, valid_hooks
from sae_probe.store import ActivationStore


def test_doc_windows_worked_example():
    assert doc_windows([5, 6, 7, 8, 9], 0, 3, 10) == [[0, 5, 6], [0, 7, 8], [0, 9]]
    assert doc_windows([5, 6, 7, 8, 9], 0, 3, 2) == [[0, 5, 6], [0, 7, 8]]


def test_unknown_hook_lists_valid_ones(tiny_model):
    model, _ = tiny_model
    assert valid_hooks(model) == ["resid_post.0", "mlp_out.0", "attn_out.0",
                                  "resid_post.1", "mlp_out.1", "attn_out.1"]
    for bad in ("resid_post.2", "resid_pre.0", "mlp_out", "mlp_out.x"):
        with pytest.raises(UserError, match=r"valid: \{resid_post,mlp_out,attn_out\}\.\{0\.\.1\}"):
            parse_hook(bad, 2)


def test_hooks_match_transformers_hidden_states_and_module_outputs(tiny_model):
    model, tokenizer = tiny_model
    ids = torch.tensor([tokenizer("def f(x):\n    return x + 1")["input_ids"]])
    with torch.no_grad():
        ref = model(input_ids=ids, output_hidden_states=True)
        # hidden_states[1] is the residual stream after layer 0 (the last one is after the norm)
        with capture_hook(model, "resid_post.0", stop=True) as got:
            run_until_hook(model, input_ids=ids)
        assert torch.allclose(got[0], ref.hidden_states[1], atol=1e-6)
        # resid_post.0 = embeddings + attn_out.0 + mlp_out.0
        with capture_hook(model, "attn_out.0") as attn, capture_hook(model, "mlp_out.0") as mlp:
            model(input_ids=ids)
        assert torch.allclose(ref.hidden_states[0] + attn[0] + mlp[0], ref.hidden_states[1],
                              atol=1e-5)
        # an identity edit changes nothing; a zero edit changes the logits
        with edit_hook(model, "mlp_out.1", lambda x: x):
            same = model(input_ids=ids).logits
        with edit_hook(model, "mlp_out.1", torch.zeros_like):
            zeroed = model(input_ids=ids).logits
    assert torch.allclose(same, ref.logits, atol=1e-6)
    assert not torch.allclose(zeroed, ref.logits, atol=1e-3)


def test_capture_store_layout_and_contents(tiny_store, tiny_model):
    model, tokenizer = tiny_model
    store = ActivationStore(tiny_store)
    # at most max_tokens rows: a last window of only BOS is dropped
    assert 2999 <= store.n_tokens <= 3000 and store.manifest["complete"]
    assert len(store.manifest["shards"]) >= 4  # shard_tokens=700
    assert store.hook == "resid_post.1" and store.d_model == model.config.hidden_size
    # every window starts with BOS and rows line up with token ids
    window = store.windows[3]
    tokens = store.window_tokens(window)
    assert tokens[0] == bos_id(tokenizer) and len(tokens) == window.length
    with torch.no_grad(), capture_hook(model, "resid_post.1") as got:
        model(input_ids=torch.tensor([tokens.astype(np.int64)]))
    start = store.shard_starts[window.shard] + window.start
    stored = store.gather(np.arange(start, start + window.length))
    assert np.allclose(stored, got[0][0].numpy(), atol=2e-2, rtol=1e-2)  # float16 storage
    # BOS rows are left out of training positions; the held-out split is disjoint
    assert start not in set(store.positions())
    train_rows, eval_rows, _ = store.split()
    assert len(np.intersect1d(train_rows, eval_rows)) == 0 and len(eval_rows) > 0
    kinds = {d["kind"] for d in store.docs}
    assert kinds == {"topics", "docstrings", "sources"}  # kinds interleaved


def test_capture_resume_gives_the_same_store(tiny_model, tiny_store, tmp_path, monkeypatch,
                                            make_capture_config):
    capture_module = importlib.import_module("sae_probe.capture")  # the module, not the function

    model, tokenizer = tiny_model
    out = tmp_path / "acts"
    real_forward, calls = capture_module.forward_acts, []

    def interrupted(*args, **kwargs):  # Ctrl-C in the middle of the capture
        calls.append(1)
        if len(calls) > 15:
            raise KeyboardInterrupt
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(capture_module, "forward_acts", interrupted)
    with pytest.raises(KeyboardInterrupt):
        capture(make_capture_config(out), model=model, tokenizer=tokenizer)
    partial = json.loads((out / "manifest.json").read_text())
    assert not partial["complete"] and 0 < partial["n_tokens"] < 3000
    with pytest.raises(UserError, match="other settings"):
        capture(make_capture_config(out, context=16, resume=True), model=model,
                tokenizer=tokenizer)
    rows_run = []  # token rows sent through the model by the resumed run

    def counting(model_, hook, windows, pad_id):
        rows_run.append(sum(map(len, windows)))
        return real_forward(model_, hook, windows, pad_id)

    monkeypatch.setattr(capture_module, "forward_acts", counting)
    resumed = capture(make_capture_config(out, resume=True), model=model,
                      tokenizer=tokenizer)
    assert resumed["n_tokens"] == ActivationStore(tiny_store).n_tokens
    # only the rows after the last committed shard ran again: none of the committed ones
    assert sum(rows_run) == resumed["n_tokens"] - partial["n_tokens"]
    a, b = ActivationStore(tiny_store), ActivationStore(out)
    assert np.array_equal(a.tokens, b.tokens)
    assert [vars(w) for w in a.windows] == [vars(w) for w in b.windows]
    assert a.docs == b.docs
    rows = np.arange(0, 2999, 7)
    assert np.array_equal(a.gather(rows), b.gather(rows))


def test_capture_user_files(tiny_model, tmp_path, make_capture_config):
    model, tokenizer = tiny_model
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def add(a, b):\n    return a + b\n" * 5)
    (tmp_path / "src" / "notes.md").write_text("Sparse autoencoders find features. " * 10)
    manifest = capture(make_capture_config(tmp_path / "acts", files=[tmp_path / "src"],
                                      hook="attn_out.0"), model=model, tokenizer=tokenizer)
    store = ActivationStore(tmp_path / "acts")
    assert manifest["hook"] == "attn_out.0"
    assert [d["kind"] for d in store.docs] == ["sources", "text"]
    with pytest.raises(UserError, match="does not exist"):
        capture(make_capture_config(tmp_path / "x", files=[tmp_path / "missing"]),
                model=model, tokenizer=tokenizer)


def test_store_rejects_other_model_or_hook(tiny_store):
    store = ActivationStore(tiny_store)
    with pytest.raises(UserError, match="come from model 'tiny-llama'"):
        store.check_matches(model="smollm2-135m-instruct")
    with pytest.raises(UserError, match="hook 'resid_post.1'"):
        store.check_matches(hook="resid_post.0")
    with pytest.raises(UserError, match="not an activation store"):
        ActivationStore(tiny_store / "nowhere")


def test_real_model_capture_matches_hidden_states(real_model, tmp_path, make_capture_config):
    """SmolLM2-135M: the stored resid_post.2 rows equal transformers' hidden_states[3]."""
    model, tokenizer = real_model
    capture(make_capture_config(tmp_path, model="smollm2-135m-instruct", hook="resid_post.2",
                           max_tokens=120, dtype="float32"), model=model, tokenizer=tokenizer)
    store = ActivationStore(tmp_path)
    window = store.windows[0]
    ids = torch.tensor([store.window_tokens(window).astype(np.int64)])
    with torch.no_grad():
        ref = model(input_ids=ids, output_hidden_states=True).hidden_states[3][0]
    got = store.gather(np.arange(window.length))
    assert np.allclose(got, ref.numpy(), atol=1e-4, rtol=1e-4)


def test_capture_keeps_an_earlier_store_unless_overwrite(tiny_model, tmp_path,
                                                         make_capture_config):
    model, tokenizer = tiny_model
    out = tmp_path / "acts"
    capture(make_capture_config(out, max_tokens=200), model=model, tokenizer=tokenizer)
    before = (out / "acts_00000.npy").read_bytes()
    with pytest.raises(UserError, match="already holds an activation store; pass --resume"):
        capture(make_capture_config(out, max_tokens=100), model=model, tokenizer=tokenizer)
    assert (out / "acts_00000.npy").read_bytes() == before
    again = capture(make_capture_config(out, max_tokens=100, overwrite=True), model=model,
                    tokenizer=tokenizer)
    assert again["n_tokens"] == ActivationStore(out).n_tokens == 100
