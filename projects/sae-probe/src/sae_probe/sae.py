"""Sparse autoencoders: ReLU + L1, TopK (+ AuxK) and JumpReLU (+ L0), one module, three encoders.

    xn   = x * scale                         inputs normalised so that E||xn||^2 = d_in
    pre  = (xn - b_dec) @ W_enc + b_enc      (N, m) pre-activations
    f    = relu(pre)                         relu      (Towards Monosemanticity)
         = relu(topk(pre, k))                topk      (Gao et al. 2024, OpenAI)
         = pre * H(pre - theta)              jumprelu  (Rajamanoharan et al. 2024, GDM)
    x^   = (f @ W_dec + b_dec) / scale       (N, d) reconstruction in the input's units

Losses (`loss()`), all in normalised units:
- relu: ||x^n - xn||^2 + l1 * sum_i f_i ||W_dec,i||              (Anthropic, April 2024 update)
- topk: nmse(x^n, xn) + aux * nmse(e^, e), e = xn - x^n, e^ = decoding of the top `aux_k`
  pre-activations among dead latents (AuxK, keeps latents from dying)
- jumprelu: ||x^n - xn||^2 + l0 * sum_i H(pre_i - theta_i), with straight-through gradients for
  theta through a rectangle kernel of width `bandwidth`.
Decoder rows are kept at unit norm (`normalize_decoder`, and `remove_parallel_grad` before each
step). Leaves out gated SAEs, BatchTopK, Matryoshka and transcoders.
Exercised by `uv run sae-probe train --arch topk|relu|jumprelu`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SAEConfig:
    d_in: int
    d_sae: int
    arch: str = "topk"
    k: int = 32
    aux_k: int = 256
    aux_coeff: float = 1 / 32
    l1_coeff: float = 5.0
    jumprelu_init_threshold: float = 0.001
    jumprelu_bandwidth: float = 0.001
    # Identity of the activations this SAE was trained on, checked by every reader.
    model: str = ""
    hook: str = ""


class _JumpReLU(torch.autograd.Function):
    """pre * H(pre - theta); d/dtheta through a rectangle kernel (straight-through estimator)."""

    @staticmethod
    def forward(ctx, pre, theta, bandwidth):
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return pre * (pre > theta)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        kernel = ((pre - theta).abs() < eps / 2).to(pre.dtype) / eps  # (N, m)
        grad_pre = grad * (pre > theta)
        grad_theta = (-theta * kernel * grad).sum(0)  # d/dtheta of pre*H(pre-theta) ~ -theta*delta
        return grad_pre, grad_theta, None


class _Step(torch.autograd.Function):
    """H(pre - theta) with the same straight-through gradient for theta (the L0 penalty)."""

    @staticmethod
    def forward(ctx, pre, theta, bandwidth):
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        kernel = ((pre - theta).abs() < eps / 2).to(pre.dtype) / eps
        return torch.zeros_like(pre), (-kernel * grad).sum(0), None


class _SelectedPre(torch.autograd.Function):
    """pre[n, idx[n, j]] for the chosen (n, j) only, with a sparse backward.

    Forward takes the values already computed by the dense no-grad matmul; backward turns the
    (N, k) gradient into a sparse (N, m) matrix, so the weight and input gradients cost N*k*d
    instead of N*m*d."""

    @staticmethod
    def forward(ctx, xc, W_enc, b_enc, indices, values):
        ctx.save_for_backward(xc, W_enc, indices)
        ctx.m = b_enc.shape[0]
        return values

    @staticmethod
    def backward(ctx, grad):
        xc, W_enc, indices = ctx.saved_tensors
        N, k = indices.shape
        rows = torch.arange(N, device=grad.device).repeat_interleave(k)
        sparse = torch.sparse_coo_tensor(torch.stack([rows, indices.reshape(-1)]),
                                         grad.reshape(-1), (N, ctx.m),
                                         check_invariants=False)  # (N, m), k per row
        grad_xc = torch.sparse.mm(sparse, W_enc.t())  # (N, d)
        grad_W_enc = torch.sparse.mm(sparse.t(), xc).t()  # (d, m)
        grad_b_enc = torch.zeros(ctx.m, dtype=grad.dtype, device=grad.device)
        grad_b_enc.index_add_(0, indices.reshape(-1), grad.reshape(-1))
        return grad_xc, grad_W_enc, grad_b_enc, None, None


def nmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error over the batch's own variance: 1.0 = no better than predicting the mean."""
    return (pred - target).pow(2).sum() / (target - target.mean(0)).pow(2).sum().clamp_min(1e-12)


class SparseAutoencoder(nn.Module):
    def __init__(self, cfg: SAEConfig):
        super().__init__()
        self.cfg = cfg
        d, m = cfg.d_in, cfg.d_sae
        W_dec = torch.randn(m, d)
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)  # (m, d) unit rows
        self.W_dec = nn.Parameter(W_dec)
        self.W_enc = nn.Parameter(W_dec.t().clone())  # (d, m) tied init (OpenAI)
        self.b_enc = nn.Parameter(torch.zeros(m))
        self.b_dec = nn.Parameter(torch.zeros(d))
        if cfg.arch == "jumprelu":
            theta = torch.full((m,), float(cfg.jumprelu_init_threshold))
            self.log_threshold = nn.Parameter(theta.log())  # (m,) log keeps theta > 0
        self.register_buffer("scale", torch.ones(()))

    # --- forward --------------------------------------------------------------------------
    def pre_acts(self, xn: torch.Tensor) -> torch.Tensor:
        return (xn - self.b_dec) @ self.W_enc + self.b_enc  # (N, m)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        arch = self.cfg.arch
        if arch == "relu":
            return torch.relu(pre)
        if arch == "topk":
            values, indices = pre.topk(self.cfg.k, dim=-1)  # (N, k)
            return torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))
        theta = self.log_threshold.exp()  # (m,)
        return _JumpReLU.apply(pre, theta, self.cfg.jumprelu_bandwidth)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent activations f (N, m) of raw activations x (N, d)."""
        return self.activate(self.pre_acts(x * self.scale))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """Reconstruction in the input's units (N, d)."""
        return (f @ self.W_dec + self.b_dec) / self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    # --- training -------------------------------------------------------------------------
    def loss(self, x: torch.Tensor, dead: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Training loss on raw activations x (N, d); `dead` (m,) bool selects AuxK latents.
        Returns (loss, info) with info["fired"] (m,) bool and the loss parts as floats."""
        xn = x * self.scale  # (N, d)
        if self.cfg.arch == "topk":
            return self._topk_loss(xn, dead)
        pre = self.pre_acts(xn)  # (N, m)
        f = self.activate(pre)  # (N, m)
        xn_hat = f @ self.W_dec + self.b_dec  # (N, d)
        parts = {"recon": (xn_hat - xn).pow(2).sum(-1).mean()}
        if self.cfg.arch == "relu":
            norms = self.W_dec.norm(dim=1)  # (m,)
            parts["l1"] = self.cfg.l1_coeff * (f * norms).sum(-1).mean()
        else:
            theta = self.log_threshold.exp()
            l0 = _Step.apply(pre, theta, self.cfg.jumprelu_bandwidth)  # (N, m)
            parts["l0"] = self.cfg.l1_coeff * l0.sum(-1).mean()
        active = f.detach() > 0
        return sum(parts.values()), {"fired": active.any(0),
                                     "l0": float(active.sum(-1).float().mean()),
                                     **{k: float(v.detach()) for k, v in parts.items()}}

    def _topk_loss(self, xn: torch.Tensor, dead: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        """TopK loss with sparse backward: the dense encoder matmul runs without autograd, then
        only the k chosen pre-activations are recomputed with gradients (N*k*d work instead of
        N*m*d), and decoding gathers k decoder rows per token. Same values and gradients as the
        dense formula (tests/test_sae.py checks it); ~3x faster at m = 4d on the CPU."""
        xc = xn - self.b_dec  # (N, d)
        with torch.no_grad():
            pre = xc @ self.W_enc + self.b_enc  # (N, m)
            indices = pre.topk(self.cfg.k, dim=-1).indices  # (N, k)
            chosen = pre.gather(1, indices)  # (N, k)
        values = torch.relu(_SelectedPre.apply(xc, self.W_enc, self.b_enc, indices, chosen))
        xn_hat = F.embedding_bag(indices, self.W_dec, per_sample_weights=values,
                                 mode="sum") + self.b_dec  # (N, d): sum_j values_j W_dec[idx_j]
        parts = {"recon": nmse(xn_hat, xn)}
        if dead is not None and bool(dead.any()):
            parts["aux"] = self.cfg.aux_coeff * self._auxk(xc, dead, xn - xn_hat.detach())
        fired = torch.zeros(self.cfg.d_sae, dtype=torch.bool, device=xn.device)
        fired[indices[values.detach() > 0]] = True
        return sum(parts.values()), {"fired": fired,
                                     "l0": float((values.detach() > 0).sum(-1).float().mean()),
                                     **{k: float(v.detach()) for k, v in parts.items()}}

    def _auxk(self, xc: torch.Tensor, dead: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """AuxK: the top `aux_k` dead latents reconstruct what the live ones missed (normalised)."""
        dead_ids = dead.nonzero().squeeze(1)  # (D,)
        pre_dead = xc @ self.W_enc[:, dead_ids] + self.b_enc[dead_ids]  # (N, D)
        values, local = pre_dead.topk(min(self.cfg.aux_k, len(dead_ids)), dim=-1)  # (N, ka)
        f_aux = torch.zeros_like(pre_dead).scatter(-1, local, torch.relu(values))  # (N, D)
        return nmse(f_aux @ self.W_dec[dead_ids], residual)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        """Drop the gradient component along each decoder row (it would only change its norm)."""
        if self.W_dec.grad is None:
            return
        rows = self.W_dec / self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)  # (m, d)
        parallel = (self.W_dec.grad * rows).sum(-1, keepdim=True)  # (m, 1)
        self.W_dec.grad.sub_(parallel * rows)

    # --- persistence ----------------------------------------------------------------------
    def save_dict(self) -> dict:
        return {"config": asdict(self.cfg), "state": self.state_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> SparseAutoencoder:
        sae = cls(SAEConfig(**data["config"]))
        sae.load_state_dict(data["state"])
        return sae
