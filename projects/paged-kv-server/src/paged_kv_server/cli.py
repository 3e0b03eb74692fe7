"""Command line of paged-kv-server: serve, generate, bench, demo (see `paged-kv-server --help`).

A thin layer over the library: each subcommand builds its config dataclass (defaults ->
`--config file.toml` -> flags) and calls one function.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, build_config, cli_entry, emit_json, model_path

from .config import DemoConfig, EngineConfig, GenerateConfig, ServeConfig

EXAMPLES = """examples:
  paged-kv-server serve --host 127.0.0.1 --port 8000          # OpenAI API on SmolLM2
  paged-kv-server generate --input prompts.jsonl --output out.jsonl --max-tokens 32
  paged-kv-server bench --json                                # throughput vs HF generate
  paged-kv-server bench --dtype bfloat16 --sequential-every 4 # both sides in bf16
  paged-kv-server demo                                        # < 90 s tour, last line JSON
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paged-kv-server", epilog=EXAMPLES, formatter_class=argparse.RawTextHelpFormatter,
        description="PagedAttention engine with continuous batching and an OpenAI-compatible "
                    "server — chapter 6.2 (高性能推理实战：vLLM) of LLM Full-Stack Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="serve the OpenAI API (/v1/completions, /v1/chat/completions, /metrics)",
        description="Serve /v1/models, /v1/completions, /v1/chat/completions (SSE streaming), "
                    "/health and /metrics until SIGINT/SIGTERM. Try it with the openai client: "
                    "OpenAI(base_url='http://127.0.0.1:8000/v1', api_key='-').")
    add_config_args(serve, ServeConfig)
    generate = commands.add_parser(
        "generate", help="offline batch: JSONL of prompts in, JSONL of completions out",
        description='Each input line: {"prompt": "..."} or {"messages": [...]} or '
                    '{"prompt_ids": [...]}, with optional sampling fields (max_tokens, '
                    "temperature, top_p, top_k, min_p, stop, seed, n ...).")
    generate.add_argument("--input", type=Path, required=True, help="JSONL file of prompts")
    generate.add_argument("--output", type=Path, required=True, help="JSONL file to write")
    add_config_args(generate, GenerateConfig)
    bench = commands.add_parser(
        "bench", help="offline throughput vs HF generate (sequential and padded batches)",
        description="Generated tokens/s on mixed-length chat prompts against HF generate one "
                    "request at a time and on padded batches, in the same process and the same "
                    "--dtype (HF is loaded in it too); KV memory utilisation against a "
                    "contiguous allocation.")
    bench.add_argument("--num-prompts", type=int, default=64, help="prompts (default 64)")
    bench.add_argument("--max-tokens", type=int, default=64, help="new tokens at most (64)")
    bench.add_argument("--padded-batch-size", type=int, default=16,
                       help="HF padded batch size (16)")
    bench.add_argument("--skip-sequential", action="store_true",
                       help="leave out the slow one-at-a-time HF baseline")
    bench.add_argument("--sequential-every", type=int, default=1,
                       help="time the one-at-a-time HF baseline on every k-th prompt (1: all)")
    bench.add_argument("--repeats", type=int, default=3,
                       help="alternating timed runs of each system (median; default 3)")
    bench.add_argument("--json", action="store_true", help="print only the final JSON line")
    add_config_args(bench, EngineConfig)
    demo = commands.add_parser(
        "demo", help="start the server, send concurrent chat requests, compare with HF (< 90 s)",
        description="Starts the engine behind the HTTP API, sends --num-requests concurrent chat "
                    "requests with the openai client, then times HF generate on the same "
                    "prompts one at a time. Last line: JSON with tokens_per_s, hf_tokens_per_s, "
                    "speedup.")
    add_config_args(demo, DemoConfig)
    return parser


def _serve(config: ServeConfig) -> None:
    name = config.served_model_name or config.model
    if config.backend == "vllm":
        _exec_vllm(config, name)
    from .engine import LLMEngine
    from .server import serve

    serve(LLMEngine(config), host=config.host, port=config.port, model_name=name,
          max_queue=config.max_queue, default_max_tokens=config.default_max_tokens)


# NOTE: the vLLM hand-off is experimental: its flags follow vLLM's documented engine arguments
# but it has not been run on a GPU here. Flags vLLM has no equivalent for are refused, never
# dropped silently.
_VLLM_REFUSED = {"kv_cache_mb": "vLLM sizes its cache with --gpu-memory-utilization",
                 "max_queue": "vLLM has no queue cap", "threads": "CPU threads do not apply",
                 "default_max_tokens": "vLLM's default is the model's remaining context"}


def vllm_argv(config: ServeConfig, name: str) -> list[str]:
    """vLLM's OpenAI server command for `config` (every flag passed through, or a UserError)."""
    defaults = ServeConfig()
    changed = [f"--{key.replace('_', '-')} ({why})" for key, why in _VLLM_REFUSED.items()
               if getattr(config, key) != getattr(defaults, key)]
    if config.device not in ("auto", "cuda"):
        changed.append(f"--device {config.device} (vLLM runs on CUDA)")
    if config.dtype == "float64":
        changed.append("--dtype float64 (vLLM has no float64)")
    if changed:
        raise UserError(f"--backend vllm cannot honour {', '.join(changed)}; drop them or use "
                        "--backend paged")
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_path(config.model)), "--served-model-name", name,
            "--host", config.host, "--port", str(config.port), "--dtype", config.dtype,
            "--block-size", str(config.block_size), "--max-model-len", str(config.max_model_len),
            "--max-num-seqs", str(config.max_num_seqs),
            "--max-num-batched-tokens", str(config.max_num_batched_tokens),
            "--seed", str(config.seed),
            "--enable-prefix-caching" if config.enable_prefix_caching
            else "--no-enable-prefix-caching",
            "--enable-chunked-prefill" if config.enable_chunked_prefill
            else "--no-enable-chunked-prefill"]
    if config.num_blocks:
        argv += ["--num-gpu-blocks-override", str(config.num_blocks)]
    return argv


def _exec_vllm(config: ServeConfig, name: str) -> None:
    """Hand the same OpenAI API to vLLM's server (replaces this process)."""
    import importlib.util

    argv = vllm_argv(config, name)  # refuse unsupported flags before anything else
    if importlib.util.find_spec("vllm") is None:
        raise UserError("--backend vllm needs vLLM: install it on a CUDA machine with "
                        "`uv pip install vllm==0.33.0`, or use --backend paged")
    import torch

    if not torch.cuda.is_available():
        raise UserError("--backend vllm needs a CUDA GPU and none is visible; use --backend paged")
    os.execv(sys.executable, argv)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        _serve(build_config(ServeConfig, args))
    elif args.command == "generate":
        from .offline import run_generate

        emit_json(run_generate(build_config(GenerateConfig, args), args.input, args.output))
    elif args.command == "bench":
        from .benchmark import run_offline_bench

        if min(args.num_prompts, args.max_tokens, args.padded_batch_size,
               args.sequential_every, args.repeats) < 1:
            raise UserError("--num-prompts, --max-tokens, --padded-batch-size, "
                            "--sequential-every and --repeats must be >= 1")
        result = run_offline_bench(build_config(EngineConfig, args), args.num_prompts,
                                   args.max_tokens, args.padded_batch_size,
                                   sequential=not args.skip_sequential,
                                   sequential_every=args.sequential_every, quiet=args.json,
                                   repeats=args.repeats)
        emit_json(result)
    elif args.command == "demo":
        from .demo import run_demo

        emit_json(run_demo(build_config(DemoConfig, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
