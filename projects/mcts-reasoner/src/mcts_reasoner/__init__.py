"""mcts-reasoner: CoT, self-consistency, MCTS (chapter 7.4, 推理模型专题).

Public API: `DemoConfig`, `run_demo`.
"""

from .config import DemoConfig
from .demo import run_demo

__all__ = ["DemoConfig", "run_demo"]
