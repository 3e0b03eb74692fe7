"""What an operator reads: Prometheus metrics and OpenTelemetry spans with GenAI attributes.

Metric names follow the issue's contract (`llm_gateway_*`); each app gets its own registry so two
gateways in one process (the tests) never share counters. Spans follow the OpenTelemetry GenAI
semantic conventions: one `chat {model}` span per request with `gen_ai.*` attributes and one child
span per backend attempt; the incoming `traceparent` is continued and forwarded to the backend.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("llm_gateway_requests_total", "requests by outcome",
                                ["tenant", "model", "backend", "status"], registry=r)
        self.tokens = Counter("llm_gateway_tokens_total", "tokens by direction",
                              ["tenant", "model", "type"], registry=r)
        self.duration = Histogram("llm_gateway_request_duration_seconds", "whole request",
                                  ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("llm_gateway_time_to_first_token_seconds", "streams only",
                              ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.cache_hits = Counter("llm_gateway_cache_hits_total", "semantic cache hits",
                                  ["tenant", "model"], registry=r)
        self.rate_limited = Counter("llm_gateway_rate_limited_total", "429 answers",
                                    ["tenant", "reason"], registry=r)
        self.backend_up = Gauge("llm_gateway_backend_up", "1 while the breaker is closed",
                                ["backend"], registry=r)


def make_tracer(provider: TracerProvider | None = None) -> trace.Tracer:
    """A tracer from `provider` (tests pass one with an in-memory exporter) or the global one."""
    if provider is not None:
        return provider.get_tracer("llm_gateway")
    return trace.get_tracer("llm_gateway")


__all__ = ["Metrics", "extract", "inject", "make_tracer"]
