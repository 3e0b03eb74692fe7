"""long-context: RoPE scaling, FlashAttention (chapter 7.1, 长上下文技术).

Public API: `DemoConfig`, `run_demo`.
"""

from .config import DemoConfig
from .demo import run_demo

__all__ = ["DemoConfig", "run_demo"]
