"""paged-kv-server: PagedAttention, continuous batching (chapter 6.2, 高性能推理实战：vLLM).

Public API: `DemoConfig`, `run_demo`.
"""

from .config import DemoConfig
from .demo import run_demo

__all__ = ["DemoConfig", "run_demo"]
