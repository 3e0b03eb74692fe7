"""RoPE from scratch and its context extensions, as formulas on `inv_freq`.

RoPE rotates each pair of dimensions (i, i + d/2) of q and k by the angle `position * inv_freq[i]`,
with `inv_freq[i] = theta ** (-2i / d)`. Every extension here only changes `inv_freq` (and, for YaRN
and LongRoPE, multiplies cos/sin by an `attention_factor`):

- `linear` (position interpolation): every frequency divided by `factor`.
- `ntk` (NTK-aware, static): the base grows to `theta * factor ** (d / (d - 2))`, so the lowest
  frequency is divided by ~factor while the highest barely moves.
- `dynamic` (dynamic NTK): NTK-aware with a factor that depends on the current length `L`:
  `theta * (factor * L / L0 - (factor - 1)) ** (d / (d - 2))`, plain RoPE while `L <= L0`.
- `yarn`: per-dimension blend between the original (high-frequency dims that turn more than
  `beta_fast` times over L0) and the interpolated frequency (dims that turn fewer than `beta_slow`
  times), a linear ramp between; attention factor `0.1 ln(factor) + 1` (or the mscale ratio).
- `llama3`: long wavelengths divided by `factor`, short ones kept, smooth blend between.
- `longrope`: per-dimension factors given in the config (short below L0, long above).

The numbers equal `transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS` (tests/test_rope.py), but
this module never imports transformers. Leaves out per-layer RoPE (Gemma 3) and partial-rotary
"proportional" RoPE. Run: `long-context rope --config config.json --json`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from llm_shared import UserError

ROPE_TYPES = ("default", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope")


@dataclass
class RopeSpec:
    """Everything a RoPE formula needs, read from a model config (see `RopeSpec.from_config`)."""

    head_dim: int
    theta: float = 10000.0
    rope_type: str = "default"
    factor: float | None = None
    max_position_embeddings: int = 2048
    original_max_position_embeddings: int | None = None
    partial_rotary_factor: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)  # beta_fast, mscale, long_factor, ...

    def __post_init__(self) -> None:
        if self.rope_type not in ROPE_TYPES:
            raise UserError(
                f"unknown rope_type '{self.rope_type}'; supported: {', '.join(ROPE_TYPES)}"
            )
        if self.rope_type in ("linear", "ntk", "dynamic", "llama3") and self.factor is None:
            raise UserError(f"rope_type '{self.rope_type}' needs a 'factor' (e.g. 4.0)")
        if self.factor is not None and self.factor < 1:
            raise UserError(f"factor must be >= 1 to extend the context (got {self.factor})")
        if (
            self.rope_type == "longrope"
            and not {"long_factor", "short_factor"} <= self.extra.keys()
        ):
            raise UserError("rope_type 'longrope' needs 'long_factor' and 'short_factor' lists")
        if (
            self.rope_type == "llama3"
            and not {"low_freq_factor", "high_freq_factor"} <= self.extra.keys()
        ):
            raise UserError("rope_type 'llama3' needs 'low_freq_factor' and 'high_freq_factor'")

    @property
    def dim(self) -> int:
        """Number of rotated dimensions (head_dim unless partial_rotary_factor < 1)."""
        return int(self.head_dim * self.partial_rotary_factor)

    @property
    def original_length(self) -> int:
        """L0: the length the model was pretrained at."""
        return self.original_max_position_embeddings or self.max_position_embeddings

    @classmethod
    def from_config(
        cls, config: dict[str, Any], rope_type: str | None = None, factor: float | None = None
    ) -> RopeSpec:
        """A model `config.json` dict -> RopeSpec; `rope_type`/`factor` override what it says.

        Reads transformers 5 `rope_parameters` or 4.x `rope_theta` + `rope_scaling` (where the
        type key may be `type`). With an override to a scaling type, L0 becomes the config's
        `max_position_embeddings` unless the config names an original length.
        """
        params = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
        if "hidden_size" not in config and "head_dim" not in config:
            raise UserError(
                "the config has neither 'head_dim' nor 'hidden_size'; is it a model config.json?"
            )
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        kind = rope_type or params.get("rope_type") or params.get("type") or "default"
        extra = {
            k: v
            for k, v in params.items()
            if k
            not in (
                "rope_type",
                "type",
                "rope_theta",
                "factor",
                "original_max_position_embeddings",
                "partial_rotary_factor",
            )
        }
        original = config.get("original_max_position_embeddings") or params.get(
            "original_max_position_embeddings"
        )
        if kind in ("yarn", "llama3", "longrope") and original is None:
            original = config.get("max_position_embeddings", 2048)
        return cls(
            head_dim=int(head_dim),
            theta=float(params.get("rope_theta") or config.get("rope_theta") or 10000.0),
            rope_type=kind,
            factor=factor if factor is not None else params.get("factor"),
            max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
            original_max_position_embeddings=original,
            partial_rotary_factor=float(
                params.get("partial_rotary_factor") or config.get("partial_rotary_factor") or 1.0
            ),
            extra=extra,
        )

    def as_rope_parameters(self) -> dict[str, Any]:
        """The transformers 5 `rope_parameters` dict for this spec (`ntk` has none: refused)."""
        if self.rope_type == "ntk":
            raise UserError("transformers has no static 'ntk' rope_type; use 'dynamic' or 'yarn'")
        params: dict[str, Any] = {
            "rope_type": self.rope_type,
            "rope_theta": self.theta,
            **self.extra,
        }
        if self.factor is not None:
            params["factor"] = self.factor
        if self.original_max_position_embeddings is not None:
            params["original_max_position_embeddings"] = self.original_max_position_embeddings
        return params


def _exponents(dim: int) -> torch.Tensor:
    return torch.arange(0, dim, 2, dtype=torch.int64).float() / dim  # (dim/2,) = 2i/d


def default_inv_freq(theta: float, dim: int) -> torch.Tensor:
    """theta ** (-2i/d): theta=10000, dim=4 -> [1.0, 0.01]."""
    return 1.0 / (theta ** _exponents(dim))  # (dim/2,)


def _yarn(spec: RopeSpec) -> tuple[torch.Tensor, float]:
    dim, base, extra = spec.dim, spec.theta, spec.extra
    factor = (
        spec.factor
        if spec.factor is not None
        else spec.max_position_embeddings / spec.original_length
    )

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = extra.get("attention_factor")
    if attention_factor is None:
        if extra.get("mscale") and extra.get("mscale_all_dim"):
            attention_factor = mscale(factor, extra["mscale"]) / mscale(
                factor, extra["mscale_all_dim"]
            )
        else:
            attention_factor = mscale(factor)
    beta_fast, beta_slow = extra.get("beta_fast") or 32, extra.get("beta_slow") or 1

    def dim_of(rotations: float) -> float:
        # The dimension index whose wavelength fits `rotations` turns into L0 positions.
        return (
            dim * math.log(spec.original_length / (rotations * 2 * math.pi)) / (2 * math.log(base))
        )

    low, high = dim_of(beta_fast), dim_of(beta_slow)
    if extra.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # a zero-width ramp would divide by zero
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(
        0, 1
    )  # (dim/2,)
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)  # (dim/2,)
    keep = 1 - ramp  # 1 on high-frequency dims (extrapolate), 0 on low-frequency ones (interpolate)
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - keep) + (1.0 / pos_freqs) * keep
    return inv_freq, float(attention_factor)


def _llama3(spec: RopeSpec) -> torch.Tensor:
    inv_freq = default_inv_freq(spec.theta, spec.dim)
    factor, old_len = spec.factor, spec.original_length
    low, high = spec.extra["low_freq_factor"], spec.extra["high_freq_factor"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq  # (dim/2,)
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def _longrope(spec: RopeSpec, seq_len: int | None) -> tuple[torch.Tensor, float]:
    original = spec.original_length
    factor = spec.factor if spec.factor is not None else spec.max_position_embeddings / original
    attention_factor = spec.extra.get("attention_factor")
    if attention_factor is None:
        attention_factor = (
            1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))
        )
    key = "long_factor" if seq_len and seq_len > original else "short_factor"
    ext = torch.tensor(spec.extra[key], dtype=torch.float32)  # (dim/2,)
    if ext.numel() != spec.dim // 2:
        raise UserError(
            f"{key} has {ext.numel()} entries; this model needs head_dim/2 = {spec.dim // 2}"
        )
    return 1.0 / (ext * spec.theta ** _exponents(spec.dim)), float(attention_factor)


def rope_frequencies(spec: RopeSpec, seq_len: int | None = None) -> tuple[torch.Tensor, float]:
    """(inv_freq (dim/2,), attention_factor) for a sequence of `seq_len` tokens.

    `seq_len` matters for `dynamic` (the base grows with it) and `longrope` (short or long
    factors); None means the config's `max_position_embeddings`, as at model construction.
    """
    kind, dim = spec.rope_type, spec.dim
    if kind == "default":
        return default_inv_freq(spec.theta, dim), 1.0
    if kind == "linear":
        return default_inv_freq(spec.theta, dim) / spec.factor, 1.0
    if kind == "ntk":
        return default_inv_freq(spec.theta * spec.factor ** (dim / (dim - 2)), dim), 1.0
    if kind == "dynamic":
        # transformers measures dynamic NTK against max_position_embeddings, not L0.
        length = max(seq_len or 0, spec.max_position_embeddings)
        scale = spec.factor * length / spec.max_position_embeddings - (spec.factor - 1)
        return default_inv_freq(spec.theta * scale ** (dim / (dim - 2)), dim), 1.0
    if kind == "yarn":
        return _yarn(spec)
    if kind == "llama3":
        return _llama3(spec), 1.0
    return _longrope(spec, seq_len)


def cos_sin(
    inv_freq: torch.Tensor, positions: torch.Tensor, attention_factor: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos/sin tables for `positions` (..., T): each (..., T, dim), the half-angles repeated."""
    angles = positions[..., None].float() * inv_freq  # (..., T, dim/2)
    emb = torch.cat((angles, angles), dim=-1)  # (..., T, dim)
    return emb.cos() * attention_factor, emb.sin() * attention_factor


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[x1, x2] -> [-x2, x1] on the last dim: [1, 2, 3, 4] -> [-3, -4, 1, 2]."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, H, T, D) by cos/sin (B, T, D) or (T, D)."""
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, D)
    return x * cos + rotate_half(x) * sin
