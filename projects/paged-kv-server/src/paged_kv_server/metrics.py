"""Prometheus metrics of the server (`GET /metrics`), named after vLLM's where one exists.

Gauges are read from the engine at scrape time (running/waiting, KV usage, free blocks, prefix hit
rate); counters and histograms (TTFT, TPOT, end-to-end latency, tokens) are fed by the handlers,
so they measure what a client sees, queueing included. Leaves out per-model labels.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .engine import LLMEngine

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_TPOT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)


class ServerMetrics:
    def __init__(self, engine: LLMEngine) -> None:
        self.engine = engine
        self.registry = r = CollectorRegistry()
        self.running = Gauge("paged_kv_num_requests_running", "sequences in the running batch",
                             registry=r)
        self.waiting = Gauge("paged_kv_num_requests_waiting", "sequences waiting to be scheduled",
                             registry=r)
        self.kv_usage = Gauge("paged_kv_kv_cache_usage_perc", "fraction of KV blocks in use",
                              registry=r)
        self.free_blocks = Gauge("paged_kv_kv_free_blocks", "free KV blocks", registry=r)
        self.num_blocks = Gauge("paged_kv_kv_num_blocks", "KV blocks in all", registry=r)
        self.hit_rate = Gauge("paged_kv_prefix_cache_hit_rate",
                              "prompt tokens served from the prefix cache / prompt tokens",
                              registry=r)
        self.preemptions = Gauge("paged_kv_num_preemptions", "sequences preempted so far",
                                 registry=r)
        self.prompt_tokens = Counter("paged_kv_prompt_tokens", "prompt tokens received",
                                     registry=r)
        self.generation_tokens = Counter("paged_kv_generation_tokens", "tokens generated",
                                         registry=r)
        self.requests = Counter("paged_kv_request_success", "finished requests",
                                ["finished_reason"], registry=r)
        self.rejected = Counter("paged_kv_request_rejected", "requests refused (queue full)",
                                registry=r)
        self.ttft = Histogram("paged_kv_time_to_first_token_seconds", "time to first token",
                              buckets=_LATENCY_BUCKETS, registry=r)
        self.tpot = Histogram("paged_kv_time_per_output_token_seconds",
                              "time per output token after the first", buckets=_TPOT_BUCKETS,
                              registry=r)
        self.e2e = Histogram("paged_kv_e2e_request_latency_seconds", "request latency",
                             buckets=_LATENCY_BUCKETS, registry=r)

    def render(self) -> bytes:
        stats = self.engine.stats()
        self.running.set(stats["running"])
        self.waiting.set(stats["waiting"])
        self.kv_usage.set(stats["kv_usage"])
        self.free_blocks.set(stats["free_blocks"])
        self.num_blocks.set(stats["num_blocks"])
        self.hit_rate.set(stats["prefix_hit_rate"])
        self.preemptions.set(stats["preemptions"])
        return generate_latest(self.registry)
