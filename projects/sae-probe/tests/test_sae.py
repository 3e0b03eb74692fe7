"""The SAE module: sparse TopK == dense formula, SAELens parity, JumpReLU/ReLU losses, norms."""

import pytest
import torch
from sae_probe.sae import SAEConfig, SparseAutoencoder, nmse


def _sae(arch="topk", d=16, m=48, k=4, seed=0, **kw):
    torch.manual_seed(seed)
    sae = SparseAutoencoder(SAEConfig(d_in=d, d_sae=m, arch=arch, k=k, **kw))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.1)
        sae.b_dec.normal_(0, 0.1)
        sae.scale.fill_(1.7)
    return sae


def test_sparse_topk_loss_matches_dense_formula_and_gradients():
    sae = _sae()
    x = torch.randn(64, 16)
    xn = x * sae.scale
    f = sae.activate(sae.pre_acts(xn))
    dense = nmse(f @ sae.W_dec + sae.b_dec, xn)
    dense.backward()
    dense_grads = [p.grad.clone() for p in sae.parameters()]
    sae.zero_grad()
    sparse, info = sae.loss(x)
    sparse.backward()
    assert torch.allclose(sparse, dense, atol=1e-6)
    for a, p in zip(dense_grads, sae.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-5)
    assert info["l0"] <= 4


def test_topk_keeps_at_most_k_and_matches_saelens_inference():
    from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

    sae = _sae(k=5)
    with torch.no_grad():
        sae.scale.fill_(1.0)  # SAELens' inference SAE has no input scale
    ref = TopKSAE(TopKSAEConfig(d_in=16, d_sae=48, k=5, dtype="float32", device="cpu"))
    ref.load_state_dict({"W_enc": sae.W_enc.data, "b_enc": sae.b_enc.data,
                         "W_dec": sae.W_dec.data, "b_dec": sae.b_dec.data}, strict=False)
    x = torch.randn(32, 16)
    with torch.no_grad():
        ours, theirs = sae.encode(x), ref.encode(x)
        assert ((ours != 0).sum(-1) <= 5).all()
        assert torch.allclose(ours, theirs, atol=1e-5)
        assert torch.allclose(sae.decode(ours), ref.decode(theirs), atol=1e-5)


def test_auxk_only_uses_dead_latents_and_trains_them():
    sae = _sae(aux_k=8)
    dead = torch.zeros(48, dtype=torch.bool)
    dead[:10] = True
    loss, info = sae.loss(torch.randn(64, 16), dead)
    assert "aux" in info and info["aux"] > 0
    loss.backward()
    # Dead latents get encoder gradient only through AuxK (they are not in the top k here).
    _, without = sae.loss(torch.randn(64, 16))
    assert "aux" not in without
    assert sae.W_enc.grad[:, :10].abs().sum() > 0


def test_relu_loss_is_mse_plus_l1_worked_example():
    sae = SparseAutoencoder(SAEConfig(d_in=2, d_sae=2, arch="relu", l1_coeff=0.5))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2))
        sae.W_dec.copy_(torch.eye(2))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    # x = (1, -2): f = relu(x) = (1, 0); x^ = (1, 0); ||x - x^||^2 = 4; L1 = 0.5 * 1
    loss, info = sae.loss(torch.tensor([[1.0, -2.0]]))
    assert info["recon"] == pytest.approx(4.0)
    assert info["l1"] == pytest.approx(0.5)
    assert float(loss.detach()) == pytest.approx(4.5)


def test_jumprelu_threshold_and_straight_through_gradient():
    sae = SparseAutoencoder(SAEConfig(d_in=2, d_sae=2, arch="jumprelu", l1_coeff=1.0,
                                      jumprelu_init_threshold=0.5, jumprelu_bandwidth=0.2))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2))
        sae.W_dec.copy_(torch.eye(2))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    f = sae.encode(torch.tensor([[0.55, 0.45]]))
    assert f.tolist() == [[pytest.approx(0.55), 0.0]]  # 0.45 is under the 0.5 threshold
    loss, info = sae.loss(torch.tensor([[0.55, 0.45]]))
    assert info["l0"] == pytest.approx(1.0)
    loss.backward()
    # Both pre-activations lie within bandwidth/2 of theta, so the threshold gets a gradient.
    assert (sae.log_threshold.grad != 0).all()


def test_decoder_norm_constraint():
    sae = _sae()
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
    loss, _ = sae.loss(torch.randn(32, 16))
    loss.backward()
    sae.remove_parallel_grad()
    assert torch.allclose((sae.W_dec.grad * sae.W_dec).sum(-1), torch.zeros(48), atol=1e-5)
    sae.normalize_decoder()
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(48), atol=1e-6)


def test_save_and_load_round_trip():
    sae = _sae("jumprelu")
    again = SparseAutoencoder.from_dict(sae.save_dict())
    x = torch.randn(8, 16)
    assert torch.equal(sae.encode(x), again.encode(x))
