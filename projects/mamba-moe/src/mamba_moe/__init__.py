"""mamba-moe: Mamba selective scan and Mixture-of-Experts from scratch (chapter 7.2, 新型架构探索).

Public API: `selective_scan`, `linear_scan` (sequential / parallel), `MambaLM`, `MixtralLM`,
`MoE`/`MoEConfig` with `load_balancing_loss` and `router_z_loss`, `load_model`/`save_model`
for transformers folders, `train` on the synthetic tasks, `run_demo`.
"""

from .checkpoint import load_model, save_model
from .config import DemoConfig, TrainConfig
from .demo import run_demo
from .mamba import MambaConfig, MambaLM
from .mixtral import MixtralConfig, MixtralLM
from .moe import MoE, MoEConfig, load_balancing_loss, router_z_loss
from .scan import linear_scan, selective_scan
from .train import train

__all__ = ["DemoConfig", "MambaConfig", "MambaLM", "MixtralConfig", "MixtralLM", "MoE",
           "MoEConfig", "TrainConfig", "linear_scan", "load_balancing_loss", "load_model",
           "router_z_loss", "run_demo", "save_model", "selective_scan", "train"]
