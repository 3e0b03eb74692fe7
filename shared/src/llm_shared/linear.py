"""`PackedLinear`: `x @ W.T` on a CPU with the weight prepacked once for oneDNN.

Why: at the row counts of decoding (1 to ~64 tokens a forward), PyTorch's default CPU path
(MKL sgemm / oneDNN without a packed weight) reorders the weight matrix into its blocked layout
on every call and does not overlap that with the arithmetic. Reordering once at load time
(`torch.ops.mkldnn._reorder_linear_weight`, the same ops Inductor's freezing pass emits) and
calling `torch.ops.mkldnn._linear_pointwise` measured, for 30 float32 (3072 x 576) weights on
one Zen 4 core: 8 rows 28.6 -> 15.7 ms, 16 rows 37.1 -> 21.2, 64 rows 89.1 -> 67.6, 512 rows
557.3 -> 488.7. The packed copy is extra memory (one more copy of each weight).

Calls with fewer than `MIN_ROWS` rows run as `MIN_ROWS` rows (copies of the first row): the
4-row kernel streamed ~20 % faster than the one-row path there, and the padding makes a row's
bits independent of the row count (oneDNN's one-row path of some shapes rounds differently),
which speculative decoding relies on. Falls back to `F.linear` off-CPU, for other dtypes, or
where oneDNN is missing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_ROWS = 4


class PackedLinear:
    """Callable `x (N, K) -> (N, out)` for one weight (out, K); keeps `weight` for other uses."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight
        self.packed: torch.Tensor | None = None
        if weight.device.type == "cpu" and torch.backends.mkldnn.is_available() and \
                weight.dtype in (torch.float32, torch.bfloat16) and weight.dim() == 2:
            try:
                self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), 16)
            except (RuntimeError, NotImplementedError):  # a torch built without these ops
                self.packed = None

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, None, "none", [], "")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None or x.dtype != self.weight.dtype or x.dim() != 2 \
                or x.device.type != "cpu":
            return F.linear(x, self.weight)
        rows = x.shape[0]
        if rows == 0:
            return x.new_zeros(0, self.weight.shape[0])
        if rows < MIN_ROWS:
            return self._run(torch.cat([x, x[:1].expand(MIN_ROWS - rows, -1)]))[:rows]
        return self._run(x)
