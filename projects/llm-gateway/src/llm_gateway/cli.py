"""Command line of llm-gateway: keys, serve, fake-backend, cache-eval, bench, demo (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, build_config, cli_entry, emit_json

from .config import BenchConfig, DemoConfig

EXAMPLES = """quick start (two fake backends, one key, the openai client):
  llm-gateway fake-backend --port 9001 &  llm-gateway fake-backend --port 9002 --fail-rate 0.5 &
  llm-gateway keys create --db gateway.db --tenant acme --rpm 60 --json
  llm-gateway serve --config gateway.toml --port 8080      # see README for gateway.toml
  python -c "from openai import OpenAI; c = OpenAI(base_url='http://127.0.0.1:8080/v1',
             api_key='sk-...'); print(c.chat.completions.create(model='smollm2',
             messages=[{'role': 'user', 'content': 'hi'}]).choices[0].message.content)"
  llm-gateway bench --json        # added latency vs direct calls at concurrency 1, 16, 64
  llm-gateway demo                # < 90 s: 401, 429, fallback, cache hit, stream; last line JSON
"""


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {value})")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-gateway", epilog=EXAMPLES, formatter_class=argparse.RawTextHelpFormatter,
        description="An OpenAI-compatible gateway: per-tenant keys, atomic limits (memory or "
                    "Redis), weighted routing with retries, fallback and circuit breakers, a "
                    "tenant-scoped semantic cache, Prometheus metrics and GenAI traces — chapter "
                    "6.3 (生产部署最佳实践) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keys = commands.add_parser("keys", help="create, list or revoke API keys (stored hashed)")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new key for a tenant, shown once")
    create.add_argument("--db", type=Path, required=True, help="SQLite key database")
    create.add_argument("--tenant", required=True, help="tenant name (letters, digits, - _)")
    create.add_argument("--rpm", type=_positive, help="this key's requests per minute")
    create.add_argument("--tpm", type=_positive, help="this key's tokens per minute")
    create.add_argument("--token-quota", type=_positive, help="this key's total tokens")
    create.add_argument("--json", action="store_true", help="print one JSON line")
    listing = actions.add_parser("list", help="every key: id, tenant, prefix, limits, revoked")
    listing.add_argument("--db", type=Path, required=True, help="SQLite key database")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("--db", type=Path, required=True, help="SQLite key database")
    revoke.add_argument("--id", type=int, required=True, help="the key's id (see keys list)")

    serve = commands.add_parser("serve", help="serve the gateway until SIGTERM (then drain)",
                                description="Serve /v1/chat/completions, /v1/completions, "
                                "/v1/models, /health, /ready and /metrics. The config file is "
                                "checked before the socket opens.")
    serve.add_argument("--config", type=Path, required=True, help="gateway.toml")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--drain-s", type=float, default=30.0,
                       help="after SIGTERM, wait at most this long for open requests (30)")

    fake = commands.add_parser("fake-backend", help="a deterministic OpenAI-compatible backend")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--fail-rate", type=float, default=0.0, help="share of 500s (0..1)")
    fake.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    fake.add_argument("--seed", type=int, default=0)

    cache_eval = commands.add_parser(
        "cache-eval", help="semantic cache hit precision/recall on labelled pairs (MiniLM)",
        description="Score the cache rule (cosine >= threshold) on the project's labelled "
                    "question pairs with the embedded MiniLM, at several thresholds.")
    cache_eval.add_argument("--thresholds", type=float, nargs="+",
                            default=[0.8, 0.85, 0.9, 0.95, 0.97], help="thresholds to score")
    cache_eval.add_argument("--json", action="store_true", help="last line JSON")
    bench = commands.add_parser("bench", help="added latency vs direct calls (and LiteLLM)")
    add_config_args(bench, BenchConfig)
    bench.add_argument("--json", action="store_true", help="last line JSON only matters here")
    demo = commands.add_parser("demo", help="< 90 s: keys, limits, fallback, cache, stream")
    add_config_args(demo, DemoConfig)
    return parser


def _keys(args: argparse.Namespace) -> int:
    from .keys import KeyStore

    store = KeyStore(args.db)
    if args.action == "create":
        key, record = store.create(args.tenant, rpm=args.rpm, tpm=args.tpm,
                                   token_quota=args.token_quota)
        if args.json:
            emit_json({"key": key, "id": record.id, "tenant": record.tenant})
        else:
            print(f"key {record.id} for tenant {record.tenant} (shown once, store it now):\n{key}")
    elif args.action == "list":
        rows = [r.__dict__ for r in store.list()]
        if args.json:
            print(json.dumps(rows))
        else:
            for r in rows:
                print(f"{r['id']:>4}  {r['tenant']:<16} {r['prefix']}…  rpm={r['rpm']} "
                      f"tpm={r['tpm']} quota={r['token_quota']}"
                      + ("  REVOKED" if r["revoked"] else ""))
    else:
        record = store.revoke(args.id)
        print(f"revoked key {record.id} of tenant {record.tenant}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .app import Gateway, create_app
    from .cache import SemanticCache, default_embedder
    from .config import load_config
    from .server import DrainingServer, make_config

    config = load_config(args.config)  # every config error surfaces here, before binding
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}: the gateway is reachable from other machines",
              file=sys.stderr)
    cache = None
    if config.cache_semantic:
        cache = SemanticCache(default_embedder(), threshold=config.cache_threshold,
                              ttl_s=config.cache_ttl_s, max_entries=config.cache_max_entries)
    gateway = Gateway(config, cache=cache)
    server = DrainingServer(make_config(create_app(gateway), args.host, args.port), gateway,
                            drain_s=args.drain_s)
    print(f"llm-gateway on http://{args.host}:{args.port}/v1 (models: "
          f"{', '.join(gateway.router.models())})", flush=True)
    try:
        server.run()
    except OSError as exc:
        raise UserError(f"cannot serve on {args.host}:{args.port} ({exc.strerror}); "
                        "pick another --port") from exc
    return 0


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keys":
        return _keys(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "fake-backend":
        import uvicorn

        from .fake_backend import create_fake_backend

        if not 0 <= args.fail_rate <= 1:
            raise UserError(f"--fail-rate must be in [0, 1] (got {args.fail_rate})")
        app = create_fake_backend(fail_rate=args.fail_rate, latency_ms=args.latency_ms,
                                  seed=args.seed)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return 0
    if args.command == "cache-eval":
        from .cache import default_embedder, evaluate_threshold
        from .cache_pairs import PAIRS

        embed = default_embedder()
        same = sum(s for _, _, s in PAIRS)
        print(f"{len(PAIRS)} labelled pairs ({same} same intent, {len(PAIRS) - same} not)")
        print(f"{'rule':>16} {'threshold':>9} {'hits':>5} {'precision':>9} {'recall':>7}")
        result = {}
        for guard in (False, True):
            rows = evaluate_threshold(embed, PAIRS, args.thresholds, guard=guard)
            rule = "cosine + guard" if guard else "cosine only"
            result["guarded" if guard else "cosine_only"] = rows
            for row in rows:
                print(f"{rule:>16} {row['threshold']:>9} {row['hits']:>5} "
                      f"{row['precision']:>9.3f} {row['recall']:>7.3f}")
        emit_json({"pairs": len(PAIRS), **result})
        return 0
    if args.command == "bench":
        from .bench import run_bench

        result = run_bench(build_config(BenchConfig, args))
        emit_json(result)
        return 0
    from .demo import run_demo

    result = run_demo(build_config(DemoConfig, args))
    emit_json(result)
    return 0
