"""A Mamba language model whose state-dict keys are those of transformers' `MambaForCausalLM`.

Block: in_proj -> causal depthwise conv1d -> SiLU -> x_proj (Δ, B, C) -> dt_proj + softplus ->
selective scan (scan.py) -> D skip -> SiLU(z) gate -> out_proj, inside an RMSNorm residual stack.
`forward(ids, state=...)` runs a whole sequence and can hand back the recurrent state; `step`
advances that O(1)-per-layer state (conv window + SSM state) by one token.

Leaves out: in_proj/out_proj biases (`use_bias=true`), activations other than SiLU and the
non-fp32 residual option (all refused on load, see `MambaConfig.from_hf`), padding masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .scan import ScanMethod, selective_scan, selective_state_update


@dataclass
class MambaConfig:
    vocab_size: int
    hidden_size: int = 64
    num_hidden_layers: int = 2
    state_size: int = 16
    expand: int = 2
    conv_kernel: int = 4
    time_step_rank: int = 0  # 0 = ceil(hidden_size / 16), as transformers' "auto"
    layer_norm_epsilon: float = 1e-5
    use_conv_bias: bool = True
    tie_word_embeddings: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # other config.json keys, kept on save

    def __post_init__(self) -> None:
        if self.time_step_rank in (0, "auto"):
            self.time_step_rank = math.ceil(self.hidden_size / 16)

    @property
    def intermediate_size(self) -> int:
        return self.expand * self.hidden_size

    @classmethod
    def from_hf(cls, cfg: dict[str, Any]) -> MambaConfig:
        refused = {"use_bias": False, "hidden_act": "silu", "residual_in_fp32": True}
        for key, ok in refused.items():
            if cfg.get(key, ok) != ok:
                raise ValueError(f"Mamba config {key}={cfg[key]!r} is not implemented "
                                 f"(only {key}={ok!r})")
        if cfg.get("intermediate_size", cfg.get("expand", 2) * cfg["hidden_size"]) != \
                cfg.get("expand", 2) * cfg["hidden_size"]:
            raise ValueError("Mamba config intermediate_size != expand * hidden_size is not "
                             "implemented")
        names = {"vocab_size", "hidden_size", "num_hidden_layers", "state_size", "expand",
                 "conv_kernel", "time_step_rank", "layer_norm_epsilon", "use_conv_bias",
                 "tie_word_embeddings"}
        known = {k: cfg[k] for k in names if k in cfg}
        return cls(**known, extra={k: v for k, v in cfg.items() if k not in names})

    def to_hf(self) -> dict[str, Any]:
        out = {**self.extra, "architectures": ["MambaForCausalLM"], "model_type": "mamba",
               "intermediate_size": self.intermediate_size, "use_bias": False,
               "hidden_act": "silu", "residual_in_fp32": True}
        for k in ("vocab_size", "hidden_size", "num_hidden_layers", "state_size", "expand",
                  "conv_kernel", "time_step_rank", "layer_norm_epsilon", "use_conv_bias",
                  "tie_word_embeddings"):
            out[k] = getattr(self, k)
        return out


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
                              ).to(x.dtype)


@dataclass
class LayerState:
    """What one layer carries between tokens: the last K-1 conv inputs and the SSM state."""
    conv: torch.Tensor  # (Bt, D, K-1)
    ssm: torch.Tensor  # (Bt, D, N)

    def nbytes(self) -> int:
        return self.conv.nbytes + self.ssm.nbytes


class MambaMixer(nn.Module):
    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        D, N, R = cfg.intermediate_size, cfg.state_size, cfg.time_step_rank
        self.N, self.R, self.K = N, R, cfg.conv_kernel
        self.in_proj = nn.Linear(cfg.hidden_size, 2 * D, bias=False)
        self.conv1d = nn.Conv1d(D, D, cfg.conv_kernel, groups=D, padding=cfg.conv_kernel - 1,
                                bias=cfg.use_conv_bias)
        self.x_proj = nn.Linear(D, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, D, bias=True)
        # S4D-real init: A = -(1…N) for every channel; stored as log for positivity
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1).float()).repeat(D, 1))
        self.D = nn.Parameter(torch.ones(D))
        self.out_proj = nn.Linear(D, cfg.hidden_size, bias=False)
        with torch.no_grad():  # Δ starts in [1e-3, 1e-1] (inverse softplus of a log-uniform draw)
            dt = torch.exp(torch.rand(D) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def _ssm_inputs(self, x: torch.Tensor):
        delta_r, B, C = self.x_proj(x).split([self.R, self.N, self.N], dim=-1)
        delta = F.softplus(self.dt_proj(delta_r))  # (Bt, L, D)
        return delta, B, C

    def forward(self, u: torch.Tensor, method: ScanMethod = "parallel",
                want_state: bool = False) -> tuple[torch.Tensor, LayerState | None]:
        L = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (Bt, L, D) each
        x_conv_in = x.transpose(1, 2)  # (Bt, D, L)
        x = F.silu(self.conv1d(x_conv_in)[..., :L]).transpose(1, 2)  # (Bt, L, D)
        delta, B, C = self._ssm_inputs(x)
        A = -torch.exp(self.A_log.float())  # (D, N)
        y, h_last = selective_scan(x, delta, A, B, C, self.D, z, method=method)
        state = None
        if want_state:
            conv = F.pad(x_conv_in, (max(0, self.K - 1 - L), 0))[..., -(self.K - 1):]
            state = LayerState(conv=conv.detach(), ssm=h_last.detach())
        return self.out_proj(y), state  # (Bt, L, d)

    def step(self, u: torch.Tensor, state: LayerState) -> tuple[torch.Tensor, LayerState]:
        """u: (Bt, d) one token -> (Bt, d) and the advanced state."""
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (Bt, D)
        window = torch.cat([state.conv, x.unsqueeze(-1)], dim=-1)  # (Bt, D, K)
        x = (window * self.conv1d.weight.squeeze(1)).sum(-1)  # (Bt, D)
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = F.silu(x)
        delta, B, C = self._ssm_inputs(x)
        A = -torch.exp(self.A_log.float())
        y, h = selective_state_update(state.ssm, x, delta, A, B, C, self.D, z)
        return self.out_proj(y), LayerState(conv=window[..., 1:], ssm=h)


class MambaBlock(nn.Module):
    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.norm = RMSNorm(cfg.hidden_size, cfg.layer_norm_epsilon)
        self.mixer = MambaMixer(cfg)


class MambaBackbone(nn.Module):
    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(MambaBlock(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm_f = RMSNorm(cfg.hidden_size, cfg.layer_norm_epsilon)


class MambaLM(nn.Module):
    """Keys match `MambaForCausalLM`: backbone.embeddings, backbone.layers.{i}.mixer.*, lm_head."""

    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = MambaBackbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        nn.init.normal_(self.backbone.embeddings.weight, std=0.02)  # as transformers' init
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.backbone.embeddings.weight

    def forward(self, ids: torch.Tensor, scan: ScanMethod = "parallel",
                want_state: bool = False) -> tuple[torch.Tensor, list[LayerState] | None]:
        """ids: (Bt, L) -> logits (Bt, L, V) float32 and, if asked, each layer's final state."""
        h = self.backbone.embeddings(ids)  # (Bt, L, d)
        states = []
        for block in self.backbone.layers:
            out, state = block.mixer(block.norm(h), method=scan, want_state=want_state)
            h = h + out
            states.append(state)
        return self.lm_head(self.backbone.norm_f(h)).float(), (states if want_state else None)

    def step(self, ids: torch.Tensor, states: list[LayerState]
             ) -> tuple[torch.Tensor, list[LayerState]]:
        """ids: (Bt,) one token per row -> logits (Bt, V) and the new states."""
        h = self.backbone.embeddings(ids)  # (Bt, d)
        new = []
        for block, state in zip(self.backbone.layers, states, strict=False):
            out, state = block.mixer.step(block.norm(h), state)
            h = h + out
            new.append(state)
        return self.lm_head(self.backbone.norm_f(h)).float(), new

    @torch.no_grad()
    def generate(self, ids: torch.Tensor, max_new_tokens: int, scan: ScanMethod = "parallel"
                 ) -> tuple[torch.Tensor, int]:
        """Greedy: prefill with the scan, then O(1) recurrent steps. Returns (new ids (Bt, n),
        bytes of recurrent state held while decoding)."""
        logits, states = self.forward(ids, scan=scan, want_state=True)
        token = logits[:, -1].argmax(-1)  # (Bt,)
        out = [token]
        for _ in range(max_new_tokens - 1):
            logits, states = self.step(token, states)
            token = logits.argmax(-1)
            out.append(token)
        return torch.stack(out, dim=1), sum(s.nbytes() for s in states)
