"""`NF4Linear`: a frozen linear layer whose weight lives as NF4 codes and is dequantised on the fly.

Forward: W = dequantize(codes, scales) in the compute dtype, y = x W^T + b. Backward needs only the
gradient with respect to x (the base weight is frozen), so the custom autograd function saves the
4-bit weight, not the dequantised copy, and dequantises again in backward — the trade of a little
compute for memory that makes QLoRA fit (bitsandbytes' MatMul4Bit does the same).
Leaves out fused 4-bit kernels and paged optimisers. Exercised by
tests/test_lora.py::test_nf4_linear_forward_and_backward.
"""

from __future__ import annotations

import torch
from torch import nn

from .nf4 import NF4Tensor, quantize_nf4


class _DequantMatmul(torch.autograd.Function):
    """y = x @ dequant(W)^T with W frozen: saves the 4-bit weight, recomputes W in backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, holder: NF4Linear) -> torch.Tensor:
        ctx.holder = holder
        weight = holder.dequantized_weight(x.dtype)  # (out, in)
        return x @ weight.t()  # (..., out)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        weight = ctx.holder.dequantized_weight(grad_out.dtype)  # (out, in)
        return grad_out @ weight, None  # (..., in)


class NF4Linear(nn.Module):
    """Drop-in for a frozen `nn.Linear` with its weight stored as NF4 (packed codes + scales).

    The codes and scales are registered as buffers so `.to(device)` and `state_dict` carry them;
    the bias (if any) stays in the compute dtype and frozen.
    """

    def __init__(self, weight: NF4Tensor, bias: torch.Tensor | None,
                 compute_dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.blocksize = weight.blocksize
        self.compute_dtype = compute_dtype
        self.register_buffer("packed", weight.packed)
        for name in ("absmax", "absmax_codes", "absmax2", "offset"):
            self.register_buffer(name, getattr(weight, name))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(),
                                                           requires_grad=False)
        self._cache: torch.Tensor | None = None  # dequantised weight while `cached()` is active

    @classmethod
    def from_linear(cls, linear: nn.Linear, blocksize: int = 64, double_quant: bool = False,
                    compute_dtype: torch.dtype = torch.float32) -> NF4Linear:
        return cls(quantize_nf4(linear.weight.data, blocksize, double_quant), linear.bias,
                   compute_dtype)

    @property
    def weight_nf4(self) -> NF4Tensor:
        return NF4Tensor(self.packed, (self.out_features, self.in_features), self.blocksize,
                         self.absmax, self.absmax_codes, self.absmax2, self.offset)

    def dequantized_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        if self._cache is not None:
            return self._cache.to(dtype or self.compute_dtype)
        return self.weight_nf4.dequantize(dtype or self.compute_dtype)  # (out, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _DequantMatmul.apply(x.to(self.compute_dtype), self)  # (..., out)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        dq = ", double_quant" if self.absmax_codes is not None else ""
        return f"in={self.in_features}, out={self.out_features}, nf4 bs={self.blocksize}{dq}"


class cached_dequantization:  # noqa: N801 - used like a function: `with cached_dequantization(m):`
    """Context manager for inference: dequantise every NF4Linear of `model` once, not per call.

    Generation calls each layer once per new token; caching trades the 4-bit memory saving for
    speed while it is active, and drops the float copies on exit.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, NF4Linear)]

    def __enter__(self) -> None:
        for layer in self.layers:
            layer._cache = layer.weight_nf4.dequantize(layer.compute_dtype)

    def __exit__(self, *exc: object) -> None:
        for layer in self.layers:
            layer._cache = None
