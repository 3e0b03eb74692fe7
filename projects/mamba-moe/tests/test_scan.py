import pytest
import torch
from mamba_moe.scan import chunked_linear_scan, linear_scan, selective_scan, selective_state_update
from transformers.models.mamba.modeling_mamba import (
    mamba_selective_scan,
    mamba_selective_state_update,
)


def test_worked_example():
    a = torch.tensor([[0.5, 0.5, 0.5]])
    b = torch.tensor([[1.0, 1.0, 1.0]])
    assert chunked_linear_scan(a, b, chunk=2).tolist() == [[1.0, 1.5, 1.75]]
    assert chunked_linear_scan(a, b, torch.tensor([4.0]), chunk=2).tolist() == [[3.0, 2.5, 2.25]]


@pytest.mark.parametrize("L", [1, 7, 64, 100])
def test_parallel_equals_sequential_values_and_grads(L):
    g = torch.Generator().manual_seed(L)
    a = torch.rand(2, L, 3, 4, generator=g).requires_grad_()
    b = torch.randn(2, L, 3, 4, generator=g).requires_grad_()
    h0 = torch.randn(2, 3, 4, generator=g).requires_grad_()
    w = torch.randn(2, L, 3, 4, generator=g)
    out = {}
    for method in ("sequential", "parallel"):
        h = linear_scan(a, b, h0, method)
        out[method] = (h, *torch.autograd.grad((h * w).sum(), (a, b, h0)))
    for seq, par in zip(out["sequential"], out["parallel"], strict=False):
        torch.testing.assert_close(par, seq, atol=1e-5, rtol=1e-5)


def _ssm_inputs(L, seed=0):
    g = torch.Generator().manual_seed(seed)
    Bt, D, N = 2, 6, 4
    x, z = torch.randn(Bt, L, D, generator=g), torch.randn(Bt, L, D, generator=g)
    delta = torch.nn.functional.softplus(torch.randn(Bt, L, D, generator=g))
    A = -torch.rand(D, N, generator=g) * 4
    B, C = torch.randn(Bt, L, N, generator=g), torch.randn(Bt, L, N, generator=g)
    return x, delta, A, B, C, torch.randn(D, generator=g), z


@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_selective_scan_equals_transformers(method):
    x, delta, A, B, C, D, z = _ssm_inputs(50)
    ref, ref_state = mamba_selective_scan(
        x.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2),
        D=D, z=z.transpose(1, 2), return_last_state=True)
    y, state = selective_scan(x, delta, A, B, C, D, z, method=method)
    torch.testing.assert_close(y, ref.transpose(1, 2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state, ref_state, atol=1e-5, rtol=1e-5)


def test_recurrent_step_equals_transformers_and_full_scan():
    x, delta, A, B, C, D, z = _ssm_inputs(12, seed=3)
    full, _ = selective_scan(x, delta, A, B, C, D, z)
    h = torch.zeros(2, 6, 4)
    for t in range(12):
        ref_state = h.clone()
        ref = mamba_selective_state_update(ref_state, x[:, t], delta[:, t], A, B[:, t], C[:, t],
                                           D=D, z=z[:, t])
        y, h = selective_state_update(h, x[:, t], delta[:, t], A, B[:, t], C[:, t], D, z[:, t])
        torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(h, ref_state, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(y, full[:, t], atol=1e-5, rtol=1e-5)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="sequential"):
        linear_scan(torch.ones(1, 2), torch.ones(1, 2), method="fast")
