"""bpe-tokenizer: BPE tokenizer, embeddings (chapter 1.3, 语言的基石：分词与嵌入).

Public API: `DemoConfig`, `run_demo`.
"""

from .config import DemoConfig
from .demo import run_demo

__all__ = ["DemoConfig", "run_demo"]
