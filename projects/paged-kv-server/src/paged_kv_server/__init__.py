"""paged-kv-server: a PagedAttention engine with continuous batching and an OpenAI-compatible API.

Chapter 6.2 (高性能推理实战：vLLM). Public API: `LLMEngine` + `EngineConfig` (offline
`generate`), `SamplingParams`, the pure-Python core `Sequence`, `BlockManager`, `Scheduler`,
the model `LlamaModel`, and `create_app` (FastAPI) for serving.
"""

from .block_manager import BlockManager
from .config import DemoConfig, EngineConfig, GenerateConfig, ServeConfig
from .engine import Completion, LLMEngine, RequestOutput
from .model import LlamaConfig, LlamaModel
from .sampling_params import SamplingParams
from .scheduler import ScheduledBatch, Scheduler
from .sequence import Sequence, SequenceStatus

__all__ = ["BlockManager", "Completion", "DemoConfig", "EngineConfig", "GenerateConfig",
           "LLMEngine", "LlamaConfig", "LlamaModel", "RequestOutput", "SamplingParams",
           "ScheduledBatch", "Scheduler", "ServeConfig", "Sequence", "SequenceStatus"]


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003 (lazy: keeps FastAPI out of engine users)
    from .server import create_app as _create_app

    return _create_app(*args, **kwargs)
