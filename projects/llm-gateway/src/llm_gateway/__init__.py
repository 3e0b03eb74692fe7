"""llm-gateway: an OpenAI-compatible gateway (chapter 6.3, 生产部署最佳实践).

Public API: `Gateway` and `create_app` (the ASGI app), `GatewayConfig`/`load_config`/`parse_config`,
`KeyStore`, `MemoryLimiter`/`RedisLimiter`/`Bucket`, `Router`, `SemanticCache`, `redact`,
`create_fake_backend`, `run_demo`, `run_bench`.
"""

from .app import Gateway, create_app
from .cache import SemanticCache
from .config import DemoConfig, GatewayConfig, load_config, parse_config
from .fake_backend import create_fake_backend
from .keys import KeyStore
from .limits import Bucket, MemoryLimiter, RedisLimiter
from .redact import redact
from .router import Router

__all__ = ["Bucket", "DemoConfig", "Gateway", "GatewayConfig", "KeyStore", "MemoryLimiter",
           "RedisLimiter", "Router", "SemanticCache", "create_app", "create_fake_backend",
           "load_config", "parse_config", "redact"]
