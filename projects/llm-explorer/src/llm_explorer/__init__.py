"""llm-explorer: chat with a local LLM, see every sampling step, measure what it can do
(chapter 1.1, 初识大语言模型).

Public API: `Engine` (generation loop with KV cache), `SamplerChain` and its stages, the
configs, `inspect_next` (next-token tables), `run_probes` (capability report), `run_demo`.
"""

from .config import (
                     ChatConfig,
                     DemoConfig,
                     GenerateConfig,
                     InspectConfig,
                     ProbeConfig,
                     SamplerConfig,
)
from .engine import Engine, Generation, StreamDecoder
from .samplers import (
                     HF_ORDER,
                     SamplerChain,
                     apply_penalties,
                     greedy_token,
                     min_p_filter,
                     top_k_filter,
                     top_p_filter,
                     typical_filter,
)

__all__ = ["HF_ORDER", "ChatConfig", "DemoConfig", "Engine", "GenerateConfig", "Generation",
           "InspectConfig", "ProbeConfig", "SamplerChain", "SamplerConfig", "StreamDecoder",
           "apply_penalties", "greedy_token", "min_p_filter", "top_k_filter", "top_p_filter",
           "typical_filter"]
