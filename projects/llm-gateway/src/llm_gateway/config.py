"""The gateway's settings: one TOML file (`serve --config gateway.toml`), checked before binding.

    db = "gateway.db"                      # SQLite file with the hashed API keys
    redis_url = "redis://127.0.0.1:6379/0" # optional: limits shared by every instance
    [[backends]]                           # url = an OpenAI-compatible base URL, or "embedded"
    name = "a"; url = "http://127.0.0.1:9001/v1"; weight = 2; timeout_s = 30
    [[routes]]
    model = "smollm2"; backends = ["a", "b"]
    [retry]            attempts = 3
    [circuit_breaker]  failures = 3; cooldown_s = 10
    [cache]            semantic = true; threshold = 0.8
    [tenants.acme]     rpm = 60; tpm = 20000; token_quota = 1000000

Every mistake (an unknown backend in a route, a bad URL, a negative limit, an unknown key) is a
`UserError` naming the setting, so `serve` exits with one line before it opens a socket. Backend
secrets come from the environment (`api_key_env = "OPENAI_API_KEY"`), never from the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from llm_shared import UserError, param


@dataclass(frozen=True)
class BackendSpec:
    name: str
    url: str  # "embedded" or an http(s) base URL ending before /chat/completions
    weight: int = 1
    timeout_s: float = 60.0
    api_key_env: str | None = None
    model: str | None = None  # the name the backend knows the model by (default: the route's)

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class LimitSpec:
    rpm: int | None = None
    tpm: int | None = None
    token_quota: int | None = None


@dataclass
class GatewayConfig:
    db: Path = Path("gateway.db")
    redis_url: str | None = None
    redis_fail_open: bool = False  # Redis down: 503 (default) or admit without limits
    backends: list[BackendSpec] = field(default_factory=list)
    routes: dict[str, list[str]] = field(default_factory=dict)  # model -> backend names
    retry_attempts: int = 3
    retry_backoff_s: float = 0.05
    breaker_failures: int = 3
    breaker_cooldown_s: float = 10.0
    cache_semantic: bool = True
    cache_threshold: float = 0.8
    cache_ttl_s: float = 600.0
    cache_max_entries: int = 10_000
    tenants: dict[str, LimitSpec] = field(default_factory=dict)
    log_path: Path | None = None  # JSONL request log, PII redacted
    max_body_bytes: int = 1 << 20

    @property
    def backend_by_name(self) -> dict[str, BackendSpec]:
        return {b.name: b for b in self.backends}


_TOP = {"db", "redis_url", "redis_fail_open", "backends", "routes", "retry", "circuit_breaker",
        "cache", "tenants", "log_path", "max_body_bytes"}
_SECTIONS = {"retry": {"attempts", "backoff_s"}, "circuit_breaker": {"failures", "cooldown_s"},
             "cache": {"semantic", "threshold", "ttl_s", "max_entries"}}


def _limit(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{where} must be a positive integer (got {value!r}); fix the config")
    return value


def _unknown(keys: set[str], known: set[str], where: str) -> None:
    extra = sorted(keys - known)
    if extra:
        raise UserError(f"unknown setting(s) {extra} in {where}; known: {sorted(known)}")


def _backend(raw: dict, index: int) -> BackendSpec:
    where = f"[[backends]] #{index + 1}"
    _unknown(set(raw), {"name", "url", "weight", "timeout_s", "api_key_env", "model"}, where)
    name, url = raw.get("name"), raw.get("url")
    if not isinstance(name, str) or not name:
        raise UserError(f"{where} needs a `name`; add name = \"...\"")
    if url != "embedded":
        parsed = urlparse(str(url or ""))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UserError(f"backend '{name}' has a bad url {url!r}; use http(s)://host:port/v1 "
                            "or \"embedded\"")
    weight = raw.get("weight", 1)
    if not isinstance(weight, int) or weight <= 0:
        raise UserError(f"backend '{name}': weight must be a positive integer (got {weight!r})")
    timeout = raw.get("timeout_s", 60.0)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UserError(f"backend '{name}': timeout_s must be > 0 (got {timeout!r})")
    return BackendSpec(name, str(url).rstrip("/"), weight, float(timeout),
                       raw.get("api_key_env"), raw.get("model"))


def parse_config(data: dict[str, Any], base: Path | None = None) -> GatewayConfig:
    """A checked GatewayConfig from parsed TOML; relative paths are taken from `base`."""
    _unknown(set(data), _TOP, "the config file")
    for section, known in _SECTIONS.items():
        _unknown(set(data.get(section, {})), known, f"[{section}]")
    base = base or Path.cwd()
    backends = [_backend(raw, i) for i, raw in enumerate(data.get("backends", []))]
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise UserError(f"backend names must be unique (got {names}); rename the duplicates")
    if not backends:
        raise UserError("the config has no [[backends]]; add at least one (url or \"embedded\")")
    routes: dict[str, list[str]] = {}
    for index, raw in enumerate(data.get("routes", [])):
        model, targets = raw.get("model"), raw.get("backends")
        if not isinstance(model, str) or not isinstance(targets, list) or not targets:
            raise UserError(f"[[routes]] #{index + 1} needs `model` and a non-empty `backends`")
        missing = [t for t in targets if t not in names]
        if missing:
            raise UserError(f"route '{model}' names unknown backend(s) {missing}; "
                            f"known backends: {names}")
        routes[model] = list(targets)
    if not routes:
        raise UserError("the config has no [[routes]]; add model = \"...\", backends = [...]")
    retry, breaker, cache = (data.get(k, {}) for k in ("retry", "circuit_breaker", "cache"))
    attempts = _limit(retry.get("attempts", 3), "[retry] attempts")
    failures = _limit(breaker.get("failures", 3), "[circuit_breaker] failures")
    cooldown = breaker.get("cooldown_s", 10.0)
    threshold = cache.get("threshold", 0.8)
    if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise UserError(f"[cache] threshold must be in (0, 1] (got {threshold!r})")
    if not isinstance(cooldown, (int, float)) or cooldown < 0:
        raise UserError(f"[circuit_breaker] cooldown_s must be >= 0 (got {cooldown!r})")
    tenants = {}
    for name, raw in data.get("tenants", {}).items():
        _unknown(set(raw), {"rpm", "tpm", "token_quota"}, f"[tenants.{name}]")
        tenants[name] = LimitSpec(*(_limit(raw.get(k), f"[tenants.{name}] {k}")
                                    for k in ("rpm", "tpm", "token_quota")))
    redis_url = data.get("redis_url")
    if redis_url is not None and urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise UserError(f"redis_url {redis_url!r} is not a redis:// URL")
    log_path = data.get("log_path")
    return GatewayConfig(
        db=base / data.get("db", "gateway.db"), redis_url=redis_url,
        redis_fail_open=bool(data.get("redis_fail_open", False)), backends=backends,
        routes=routes, retry_attempts=attempts or 3,
        retry_backoff_s=float(retry.get("backoff_s", 0.05)), breaker_failures=failures or 3,
        breaker_cooldown_s=float(cooldown), cache_semantic=bool(cache.get("semantic", True)),
        cache_threshold=float(threshold), cache_ttl_s=float(cache.get("ttl_s", 600.0)),
        cache_max_entries=int(cache.get("max_entries", 10_000)), tenants=tenants,
        log_path=base / log_path if log_path else None,
        max_body_bytes=int(data.get("max_body_bytes", 1 << 20)))


def load_config(path: Path) -> GatewayConfig:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise UserError(f"config file {path} not found; pass an existing gateway.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML ({exc}); fix the file") from exc
    return parse_config(data, path.resolve().parent)


@dataclass
class DemoConfig:
    requests: int = param(40, help="requests in the overhead part of the demo")
    bucket: int = param(5, help="rpm of the demo tenant (its bucket size)")
    seed: int = param(0, help="seed of the fake backends' failures")


@dataclass
class BenchConfig:
    requests: int = param(300, help="requests per system and concurrency level")
    concurrency: list[int] = param([1, 16, 64], help="concurrency levels")
    repeats: int = param(3, help="alternating rounds per level (medians over rounds)")
    litellm_bin: str | None = param(None, help="path of a `litellm` executable (litellm[proxy] "
                                    "in its own environment, see README) to measure too")

    def __post_init__(self) -> None:
        if self.requests < 1 or self.repeats < 1 or any(c < 1 for c in self.concurrency):
            raise ValueError("requests, repeats and every concurrency must be >= 1")
