"""The four position schemes: sinusoidal and learned (added to the embeddings), RoPE (rotates
queries and keys) and ALiBi (a distance penalty added to the attention scores).

Sinusoidal and learned tables are indexed by absolute position; RoPE and ALiBi only ever see the
difference of two positions, which is why they are the ones with a chance to extrapolate to longer
inputs than trained on (measured in the README). Left out: NTK / YaRN RoPE scaling (chapter 7.1).
"""

from __future__ import annotations

import math

import torch


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same), as in the paper.

    >>> sinusoidal_table(2, 4)[1]   # sin(1), cos(1), sin(0.01), cos(0.01)
    tensor([0.8415, 0.5403, 0.0100, 0.9999])
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (L, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                         * (-math.log(10000.0) / d_model))  # (d/2,)
    table = torch.zeros(max_len, d_model)  # (L, d)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table


class Rotary:
    """Rotary position embedding (RoFormer), Llama's "rotate half" layout: dimension i is paired
    with i + d/2 and the pair is rotated by angle pos * base^(-2i/d).

    Rotating q by m·θ and k by n·θ makes q·k depend on m - n only; no parameters are learned."""

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension (got {head_dim})")
        self.inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)

    def __call__(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        # x: (B, H, T, dh), positions: (T,)
        angles = positions.to(torch.float32)[:, None] * self.inv_freq  # (T, dh/2)
        angles = torch.cat([angles, angles], dim=-1)  # (T, dh)
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # (B, H, T, dh)
        return x * cos + rotated * sin


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Head h's slope is 2^(-8h/n) for n a power of two; otherwise the paper's interleaving.

    >>> alibi_slopes(4)
    tensor([0.2500, 0.0625, 0.0156, 0.0039])
    """
    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return torch.tensor(power_of_two(num_heads))
    closest = 2 ** math.floor(math.log2(num_heads))
    extra = power_of_two(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(power_of_two(closest) + extra)


def alibi_bias(slopes: torch.Tensor, q_positions: torch.Tensor, k_positions: torch.Tensor,
               causal: bool) -> torch.Tensor:
    """-slope · distance, added to the scores: (H, Tq, Tk). Causal attention only looks back, so
    the distance is q - k; the encoder looks both ways and uses |q - k|."""
    distance = q_positions[:, None] - k_positions[None, :]  # (Tq, Tk)
    if not causal:
        distance = distance.abs()
    return -slopes[:, None, None] * distance.to(slopes.dtype)  # (H, Tq, Tk)
