"""Dashboard pieces, linear probes and steering on the tiny model (and the real one for probes)."""

import json

import numpy as np
import pytest
import torch
from sae_probe.config import ProbeConfig, SteerConfig
from sae_probe.dashboard import build_reports, context_text, logit_lens, token_purity
from sae_probe.probe import fit_probes, run_probe
from sae_probe.steer import steer
from sae_probe.store import ActivationStore
from sae_probe.train import load_sae


def test_logit_lens_of_an_unembedding_row_promotes_its_token(tiny_model):
    model, tokenizer = tiny_model
    token = tokenizer.encode("hello", add_special_tokens=False)[0]
    gain = model.model.norm.weight.detach()
    direction = model.get_output_embeddings().weight[token].detach() / gain
    up, _ = logit_lens(model, direction, tokenizer, n=3)
    assert tokenizer.decode([token]) == up[0]


def test_reports_contexts_highlight_the_activating_token(tiny_model, tiny_store, tiny_sae):
    model, tokenizer = tiny_model
    store = ActivationStore(tiny_store)
    sae = load_sae(tiny_sae)
    report = build_reports(sae, store, tokenizer, model, None, 1, top=5, window=6, max_rows=3000,
                           pick_interpretable=True)[0]
    assert report.contexts and sum(report.histogram["counts"]) == round(report.frequency *
                                                                        len(store.positions()[:3000]))
    acts = [c["act"] for c in report.contexts]
    assert acts == sorted(acts, reverse=True)
    # the highlighted piece is the token at the activating row: re-encode it and check
    best = report.contexts[0]
    assert f"[[{best['token']}]]" in context_text(best)
    assert 0.0 < report.purity <= 1.0


def test_token_purity_worked_example(tiny_store):
    store = ActivationStore(tiny_store)
    rows = np.array([1, 1, 2, -1])  # -1 = empty slot, ignored
    same = store.tokens[1] == store.tokens[2]
    assert token_purity(store, rows) == pytest.approx(1.0 if same else 2 / 3)


def test_fit_probes_separable_labels():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    doc_ids = np.arange(400) // 20  # 20 documents
    separable = rng.normal(size=(400, 8)) + labels[:, None] * 3.0
    noise = rng.normal(size=(400, 8))
    results, extra = fit_probes({0: noise, 1: separable}, labels, doc_ids,
                                ProbeConfig(max_tokens_per_class=1000))
    assert results[1]["test_acc"] > 0.95 and results[0]["test_acc"] < 0.8
    direction = extra["directions"][1]["direction"]
    assert float(direction.norm()) == pytest.approx(1.0, abs=1e-5) and (direction > 0).all()


def test_probe_digit_on_tiny_model_writes_plot(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    summary = run_probe(ProbeConfig(model="tiny-llama", label="digit", docs=12, context=48,
                                    max_tokens_per_class=150, out=tmp_path, device="cpu"),
                        model, tokenizer)
    assert len(summary["layers"]) == 2
    assert (tmp_path / "probe.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "probe.json").read_text())["label"] == "digit"
    # steer reads the saved direction back (safetensors + JSON) at the best layer
    result = steer(SteerConfig(probe=tmp_path, model="tiny-llama", strength=0.0,
                               max_new_tokens=4, device="cpu"), model, tokenizer)
    assert result["hook"] == f"resid_post.{summary['best_layer']}"
    assert result["before"] == result["after"]


@pytest.mark.slow
def test_real_model_code_probe_beats_chance(real_model, tmp_path):
    """SmolLM2 reads 'Python source vs prose' off its residual stream well above chance (0.5)."""
    model, tokenizer = real_model
    summary = run_probe(ProbeConfig(label="code", docs=16, context=64, out=tmp_path, layers=[2, 8],
                                    max_tokens_per_class=200, device="cpu"), model, tokenizer)
    assert [r["layer"] for r in summary["layers"]] == [2, 8]
    assert summary["best_test_acc"] > 0.75


def test_steering_changes_greedy_text_and_zero_strength_does_not(tiny_model, tiny_sae):
    model, tokenizer = tiny_model
    base = dict(prompt="Hello", sae=tiny_sae, latent=0, model="tiny-llama", max_new_tokens=8,
                device="cpu")
    same = steer(SteerConfig(strength=0.0, **base), model, tokenizer)
    assert same["before"] == same["after"]
    moved = steer(SteerConfig(strength=50.0, **base), model, tokenizer)
    assert moved["before"] != moved["after"]
    with pytest.raises(Exception, match="outside the dictionary"):
        steer(SteerConfig(strength=1.0, **{**base, "latent": 10_000}), model, tokenizer)
    assert torch.is_tensor(load_sae(tiny_sae).W_dec)
