"""medusa-decoder: speculative decoding and Medusa heads (chapter 7.3, 推理加速黑科技).

Public API: `generate` (the verify loop), the proposers (`NoProposer`, `NgramProposer`,
`DraftModelProposer`, `MedusaProposer`, `early_exit_model`), `MedusaHeads` + `load_heads` /
`save_heads`, `train_heads`, `Decoder` (method name -> proposer), `LeanLlama` (the lean
engine), `DraftTree`, the acceptance rules, and the configs.
"""

from .acceptance import accept_greedy, accept_speculative, accept_typical
from .config import BenchConfig, DecodeConfig, DemoConfig, TrainHeadsConfig
from .decoding import GenerationResult, generate
from .heads import MedusaHeads, load_heads, model_fingerprint, save_heads
from .lean import LeanLlama
from .methods import Decoder
from .proposers import (
                        DraftModelProposer,
                        MedusaProposer,
                        NgramProposer,
                        NoProposer,
                        Proposer,
                        early_exit_model,
)
from .train import train_heads
from .tree import DraftTree, TreeLayout, medusa_tree_paths

__all__ = ["BenchConfig", "DecodeConfig", "Decoder", "DemoConfig", "DraftModelProposer",
           "DraftTree", "GenerationResult", "LeanLlama", "MedusaHeads", "MedusaProposer",
           "NgramProposer", "NoProposer", "Proposer", "TrainHeadsConfig", "TreeLayout",
           "accept_greedy", "accept_speculative", "accept_typical", "early_exit_model",
           "generate", "load_heads", "medusa_tree_paths", "model_fingerprint", "save_heads",
           "train_heads"]
