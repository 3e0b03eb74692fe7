"""Training (init, schedule, resume), evaluation metrics and the spliced loss."""

import importlib

import numpy as np
import pytest
import torch
from llm_shared import UserError
from sae_probe.config import EvalConfig, TrainConfig
from sae_probe.evaluate import evaluate_sae, recon_metrics, spliced_losses
from sae_probe.sae import SAEConfig, SparseAutoencoder
from sae_probe.store import ActivationStore
from sae_probe.train import batch_rows, geometric_median, load_sae, lr_at, train


def test_geometric_median_worked_example():
    # Three points on a line and an outlier: the median stays near the cluster, the mean does not.
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [100.0, 0.0]])
    median = geometric_median(points)
    assert 1.0 <= float(median[0]) <= 2.0 and abs(float(median[1])) < 1e-6
    assert float(points.mean(0)[0]) == pytest.approx(25.75)
    # triangle with all angles < 120 degrees: the Fermat point of (0,0), (2,0), (1,sqrt(3))
    tri = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3 ** 0.5]], dtype=torch.float64)
    assert torch.allclose(geometric_median(tri, iters=500, tol=1e-12),
                          torch.tensor([1.0, 1 / 3 ** 0.5], dtype=torch.float64), atol=1e-5)


def test_lr_warmup_constant_decay():
    config = TrainConfig(lr=1.0, warmup_steps=4, decay_frac=0.5)
    lrs = [lr_at(step, 10, config) for step in range(10)]
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2])


def test_batch_order_depends_only_on_seed_and_step():
    rows = np.arange(100)
    a = batch_rows(rows, 7, 10, seed=3)
    assert np.array_equal(a, batch_rows(rows, 7, 10, seed=3))
    epoch = np.concatenate([batch_rows(rows, s, 10, seed=3) for s in range(10)])
    assert sorted(epoch.tolist()) == list(range(100))  # one epoch sees every row once


def test_training_smoke_changes_every_parameter_and_lowers_loss(tiny_store, tiny_sae):
    summary_first = load_sae(tiny_sae)
    init = SparseAutoencoder(SAEConfig(d_in=summary_first.cfg.d_in, d_sae=64, k=4))
    for name, param in summary_first.named_parameters():
        assert not torch.equal(param, dict(init.named_parameters())[name]), name
    assert torch.allclose(summary_first.W_dec.norm(dim=1), torch.ones(64), atol=1e-5)
    store = ActivationStore(tiny_store)
    x = torch.from_numpy(store.gather(store.split()[1]))
    metrics = recon_metrics(summary_first.encode, summary_first.decode, x, 64)
    assert metrics["l0"] <= 4 and metrics["fvu"] < 0.9


@pytest.mark.parametrize("arch", ["topk", "relu", "jumprelu"])
def test_resume_runs_only_the_missing_steps_and_reaches_the_same_weights(tiny_store, tmp_path,
                                                                        monkeypatch, arch):
    train_module = importlib.import_module("sae_probe.train")  # the module, not the function
    real_batch_rows, steps_seen = train_module.batch_rows, []

    def counting_batch_rows(rows, step, batch_size, seed):  # called once per optimizer step
        steps_seen.append(step)
        return real_batch_rows(rows, step, batch_size, seed)

    monkeypatch.setattr(train_module, "batch_rows", counting_batch_rows)

    def config(out, resume=False):
        return TrainConfig(acts=tiny_store, out=out, arch=arch, d_sae=32, k=4, l1_coeff=0.01,
                           tokens=128 * 10, batch_size=128, warmup_steps=2, checkpoint_every=3,
                           device="cpu", resume=resume, dead_tokens=300)

    straight = train(config(tmp_path / "a"))
    assert np.isfinite(straight["final"]["loss"]) and steps_seen == list(range(10))
    steps_seen.clear()
    train(config(tmp_path / "b"), stop_after=4)  # "interrupted" after step 4, checkpoint at 3
    assert steps_seen == [0, 1, 2, 3] and not (tmp_path / "b" / "sae.safetensors").exists()
    with pytest.raises(UserError, match="training unfinished"):
        load_sae(tmp_path / "b")
    steps_seen.clear()
    resumed = train(config(tmp_path / "b", resume=True))
    assert steps_seen == list(range(3, 10))  # from the checkpoint on, nothing twice
    assert resumed["steps_this_run"] == 7 and resumed["steps"] == straight["steps"] == 10
    assert resumed["final"] == straight["final"] and resumed["dead_frac"] == straight["dead_frac"]
    a, b = load_sae(tmp_path / "a"), load_sae(tmp_path / "b")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_train_keeps_an_earlier_sae_unless_overwrite(tiny_store, tmp_path):
    def config(**flags):
        return TrainConfig(acts=tiny_store, out=tmp_path, d_sae=16, k=2, tokens=256,
                           batch_size=128, warmup_steps=1, device="cpu", **flags)

    train(config())
    before = (tmp_path / "sae.safetensors").read_bytes()
    with pytest.raises(UserError, match="--overwrite to replace it"):
        train(config(seed=1))
    assert (tmp_path / "sae.safetensors").read_bytes() == before
    train(config(seed=1, overwrite=True))
    assert (tmp_path / "sae.safetensors").read_bytes() != before


def test_recon_metrics_worked_example():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    f = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    out = recon_metrics(lambda _: f, lambda g: g @ W, x, 3, dense_threshold=0.4)
    # errors: only row 3 misses (0, 1) -> 1.0; variance: each column 0.25 * 4 = 1 -> total 2
    assert out["fvu"] == pytest.approx(0.5)
    assert out["l0"] == pytest.approx(3 / 4)
    assert out["dead_frac"] == pytest.approx(1 / 3)
    assert out["dense_frac"] == pytest.approx(1 / 3)  # latent 0 fires on half the rows


def test_spliced_identity_costs_nothing_and_zero_ablation_hurts(tiny_model, tiny_store):
    model, _ = tiny_model
    store = ActivationStore(tiny_store)
    windows = [store.window_tokens(w) for w in store.split()[2][:4]]
    out = spliced_losses(model, store.hook, windows, lambda x: x)
    assert out["delta_loss"] == pytest.approx(0.0, abs=1e-6)
    assert out["loss_recovered"] == pytest.approx(1.0, abs=1e-5)
    assert out["zero_ablation_delta"] != 0.0


def test_evaluate_sae_and_mismatch_errors(tiny_model, tiny_store, tiny_sae, tmp_path):
    model, _ = tiny_model
    sae = load_sae(tiny_sae)
    result = evaluate_sae(sae, ActivationStore(tiny_store),
                          EvalConfig(sae=tiny_sae, acts=tiny_store, loss_windows=4, device="cpu"),
                          model=model)
    wanted = {"l0", "fvu", "dead_frac", "dense_frac", "delta_loss", "zero_ablation_delta"}
    assert wanted <= set(result)
    sae.cfg.hook = "resid_post.0"  # as if trained on another layer
    with pytest.raises(UserError, match="from hook 'resid_post.1'"):
        evaluate_sae(sae, ActivationStore(tiny_store), EvalConfig(loss_windows=0), model=model)


def test_k_larger_than_dictionary_is_rejected():
    with pytest.raises(UserError, match="larger than the dictionary"):
        TrainConfig(d_sae=16, k=32)
