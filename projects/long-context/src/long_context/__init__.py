"""long-context: RoPE scaling, tiled attention, passkey retrieval, StreamingLLM (chapter 7.1).

Public API: RoPE (`RopeSpec`, `rope_frequencies`, `cos_sin`, `apply_rope`), attention
(`tiled_attention`, `naive_attention`, `sdpa_attention`), models (`load_long_model`, `configure`),
retrieval (`make_trials`, `run_trials`, `write_run`), streaming (`streaming_nll`), `run_demo`.
"""

from .attention import naive_attention, sdpa_attention, tiled_attention
from .config import DemoConfig, ModelConfig, StreamConfig
from .demo import run_demo
from .model import configure, load_long_model
from .passkey import make_trials, run_trials, write_run
from .rope import RopeSpec, apply_rope, cos_sin, rope_frequencies
from .stream import streaming_nll

__all__ = [
    "DemoConfig",
    "ModelConfig",
    "RopeSpec",
    "StreamConfig",
    "apply_rope",
    "configure",
    "cos_sin",
    "load_long_model",
    "make_trials",
    "naive_attention",
    "rope_frequencies",
    "run_demo",
    "run_trials",
    "sdpa_attention",
    "streaming_nll",
    "tiled_attention",
    "write_run",
]
