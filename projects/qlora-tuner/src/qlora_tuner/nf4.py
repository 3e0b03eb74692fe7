"""NF4: 4-bit NormalFloat block-wise quantisation (QLoRA, Dettmers et al. 2023), written out.

A weight tensor is cut into blocks of `blocksize` consecutive values (row-major); each block is
divided by its absolute maximum (so it lies in [-1, 1]) and every value is replaced by the index of
the nearest of 16 NF4 levels; two 4-bit indices are packed into one byte (first one in the high
nibble, as bitsandbytes does). Double quantisation stores the float32 absmax scales themselves as
8-bit codes of bitsandbytes' signed "dynamic" map, in blocks of 256, after subtracting their mean.

The levels are quantiles of N(0, 1) (`normal_code_book` derives them); the constants in `NF4_CODE`
are the float32 values the paper and bitsandbytes publish, kept so the codes match bit for bit
(tested against `bitsandbytes.functional.quantize_4bit` on the CPU). Leaves out FP4 and fused
4-bit matmul kernels: dequantise-then-matmul is the whole algorithm, a kernel only makes it faster.
Exercised by `uv run --package qlora-tuner pytest tests/test_nf4.py`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

# The 16 NF4 levels as published (QLoRA appendix E / bitsandbytes `get_4bit_type("nf4")`).
NF4_CODE = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=torch.float32)

DOUBLE_QUANT_BLOCKSIZE = 256  # bitsandbytes' block size for the nested quantisation of scales


def normal_code_book(offset: float = 0.9677083) -> torch.Tensor:
    """The NF4 levels from first principles: 8 positive and 7 negative N(0,1) quantiles plus an
    exact zero, scaled to [-1, 1]. `offset` is the outermost quantile probability (the paper's
    0.5 * (1/(2*15) + 1/(2*16)) tails rule). -> a float32 tensor of 16 sorted levels ≈ NF4_CODE.
    """
    normal = torch.distributions.Normal(0.0, 1.0)
    positive = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])  # (8,)
    negative = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])  # (7,)
    values = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative]).sort().values
    return (values / values.abs().max()).float()  # (16,)


@functools.cache
def dynamic_code_book() -> torch.Tensor:
    """bitsandbytes' signed 8-bit dynamic map (Dettmers 2015): 256 sorted levels in [-1, 1] with an
    exponent of 10^-6..10^0 and a fraction that shrinks as the exponent grows. Used for the
    scales."""
    data: list[float] = []
    max_exponent_bits, non_sign_bits = 7, 7
    for i in range(max_exponent_bits):
        fraction_items = 2 ** (i + non_sign_bits - max_exponent_bits) + 1
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        scale = 10 ** (-(max_exponent_bits - 1) + i)
        data += (scale * means).tolist() + (-scale * means).tolist()
    data += [0.0, 1.0]
    data += [0.0] * (256 - len(data))
    # Built once (cached): every forward of a double-quantised layer looks its scales up here.
    return torch.tensor(sorted(data), dtype=torch.float32)  # (256,)


def _nearest(scaled: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Index of the nearest level of a sorted `code`; a value exactly between two levels goes down
    (bucketize on the midpoints, as bitsandbytes' reference kernel does)."""
    midpoints = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, midpoints)


def blockwise_absmax_quantize(x: torch.Tensor, code: torch.Tensor,
                              blocksize: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten `x`, scale each block by 1/absmax, snap to `code`. -> (indices int64 (N,), absmax
    float32 (ceil(N/blocksize),)). A last partial block gets its own absmax.

    Example: x=[0.5, -1.0, 0.25, 0.0], blocksize 2, NF4 -> absmax [1.0, 0.25],
    indices [12, 0, 15, 7]
    (0.5 is 0.059 from level 12 = 0.4407 and 0.063 from level 13 = 0.5626).
    """
    flat = x.reshape(-1).float()  # (N,)
    n = flat.numel()
    pad = (-n) % blocksize
    blocks = torch.nn.functional.pad(flat, (0, pad)).view(-1, blocksize)  # (nb, bs)
    absmax = blocks.abs().max(dim=1).values  # (nb,)
    # Multiply by the reciprocal like bitsandbytes (not divide) so rounding ties land identically.
    scaled = torch.clamp(blocks * (1.0 / absmax.clamp(min=1e-38)).unsqueeze(1), -1, 1)  # (nb, bs)
    return _nearest(scaled.reshape(-1)[:n], code.to(flat.device)), absmax


def pack_nibbles(indices: torch.Tensor) -> torch.Tensor:
    """Two 4-bit indices per byte, first in the high nibble: [1, 2, 3] -> [0x12, 0x30] (uint8)."""
    q = indices.to(torch.uint8)
    if q.numel() % 2:
        q = torch.nn.functional.pad(q, (0, 1))
    return (q[0::2] << 4) | q[1::2]  # (ceil(N/2),)


def unpack_nibbles(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of `pack_nibbles`: -> int64 indices (n,)."""
    out = torch.stack([packed >> 4, packed & 0xF], dim=1).reshape(-1)  # (2 * len(packed),)
    return out[:n].long()


@dataclass
class NF4Tensor:
    """A weight quantised to NF4. `packed` holds the 4-bit codes; the scales are either float32
    `absmax` or (double quantisation) 8-bit `absmax_codes` with their own float32 `absmax2` per 256
    scales and the subtracted mean `offset`."""

    packed: torch.Tensor  # uint8 (ceil(N/2),)
    shape: tuple[int, ...]
    blocksize: int
    absmax: torch.Tensor | None = None  # float32 (nb,)
    absmax_codes: torch.Tensor | None = None  # uint8 (nb,)
    absmax2: torch.Tensor | None = None  # float32 (ceil(nb/256),)
    offset: torch.Tensor | None = None  # float32 scalar

    @property
    def double_quant(self) -> bool:
        return self.absmax_codes is not None

    def scales(self) -> torch.Tensor:
        """The per-block absmax in float32 (rebuilt from 8-bit codes under double quantisation)."""
        if not self.double_quant:
            return self.absmax
        book = dynamic_code_book().to(self.absmax_codes.device)
        codes = book.index_select(0, self.absmax_codes.int())  # (nb,)
        nb = codes.numel()
        pad = (-nb) % DOUBLE_QUANT_BLOCKSIZE
        blocks = torch.nn.functional.pad(codes, (0, pad)).view(-1, DOUBLE_QUANT_BLOCKSIZE)
        return (blocks * self.absmax2.unsqueeze(1)).reshape(-1)[:nb] + self.offset  # (nb,)

    def nbytes(self) -> int:
        parts = (self.packed, self.absmax, self.absmax_codes, self.absmax2, self.offset)
        return sum(p.numel() * p.element_size() for p in parts if p is not None)

    def codes(self) -> torch.Tensor:
        """The unpacked 4-bit indices, (N,) int64."""
        return unpack_nibbles(self.packed, _numel(self.shape))

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Level lookup times block scale -> a tensor of `shape` in `dtype`.

        One gather per byte from a (256, 2) table of level pairs decodes both nibbles at once,
        so the hot path (every forward of a QLoRA model) makes no int64 copy of the codes.
        """
        n = _numel(self.shape)
        table = _pair_table(self.packed.device)  # (256, 2)
        values = table.index_select(0, self.packed.int()).view(-1)  # (2 * ceil(N/2),)
        pad = (-values.numel()) % self.blocksize
        if pad:
            values = torch.nn.functional.pad(values, (0, pad))
        blocks = values.view(-1, self.blocksize)  # (nb', bs)
        scales = self.scales()  # (nb,)
        if scales.numel() < blocks.shape[0]:  # an odd N padded one nibble into a new block
            scales = torch.nn.functional.pad(scales, (0, blocks.shape[0] - scales.numel()))
        out = (blocks * scales.unsqueeze(1)).view(-1)[:n]  # (N,)
        return out.view(self.shape).to(dtype)

    def to(self, device: torch.device | str) -> NF4Tensor:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return NF4Tensor(move(self.packed), self.shape, self.blocksize, move(self.absmax),
                         move(self.absmax_codes), move(self.absmax2), move(self.offset))


_PAIR_TABLES: dict[torch.device, torch.Tensor] = {}


def _pair_table(device: torch.device) -> torch.Tensor:
    """(256, 2) float32: row b holds the NF4 levels of byte b's high and low nibble."""
    if device not in _PAIR_TABLES:
        byte = torch.arange(256)
        pairs = torch.stack([NF4_CODE[byte >> 4], NF4_CODE[byte & 0xF]], 1)  # (256, 2)
        _PAIR_TABLES[device] = pairs.to(device)
    return _PAIR_TABLES[device]


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def quantize_nf4(weight: torch.Tensor, blocksize: int = 64,
                 double_quant: bool = False) -> NF4Tensor:
    """Quantise `weight` (any float dtype/shape) to NF4 with one absmax per `blocksize` values;
    `double_quant` also quantises those scales to 8 bits (4.5 -> 4.127 bits per weight at
    blocksize 64)."""
    if blocksize <= 0:
        raise ValueError(f"blocksize must be > 0 (got {blocksize})")
    indices, absmax = blockwise_absmax_quantize(weight.detach(), NF4_CODE, blocksize)
    packed = pack_nibbles(indices)
    shape = tuple(weight.shape)
    if not double_quant:
        return NF4Tensor(packed, shape, blocksize, absmax=absmax)
    offset = absmax.mean()
    codes, absmax2 = blockwise_absmax_quantize(absmax - offset, dynamic_code_book(),
                                               DOUBLE_QUANT_BLOCKSIZE)
    return NF4Tensor(packed, shape, blocksize, absmax_codes=codes.to(torch.uint8),
                     absmax2=absmax2, offset=offset)
