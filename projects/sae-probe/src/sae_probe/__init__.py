"""sae-probe: sparse autoencoders, linear probes and steering on a real model (chapter 7.5).

Library API (the CLI in `cli.py` is a thin layer over it):
capture -> ActivationStore -> train -> SparseAutoencoder -> evaluate / build_reports / steer;
run_probe for layer-wise linear probes.
"""

from .capture import capture
from .config import (
                     CaptureConfig,
                     DemoConfig,
                     EvalConfig,
                     InspectConfig,
                     ProbeConfig,
                     SteerConfig,
                     TrainConfig,
)
from .evaluate import evaluate, evaluate_sae, recon_metrics, spliced_losses
from .hooks import capture_hook, edit_hook, parse_hook, valid_hooks
from .probe import run_probe
from .sae import SAEConfig, SparseAutoencoder
from .steer import steer
from .store import ActivationStore
from .train import geometric_median, load_sae, train

__all__ = [
    "ActivationStore", "CaptureConfig", "DemoConfig", "EvalConfig", "InspectConfig",
    "ProbeConfig", "SAEConfig", "SparseAutoencoder", "SteerConfig", "TrainConfig", "capture",
    "capture_hook", "edit_hook", "evaluate", "evaluate_sae", "geometric_median", "load_sae",
    "parse_hook", "recon_metrics", "run_probe", "spliced_losses", "steer", "train", "valid_hooks",
]
