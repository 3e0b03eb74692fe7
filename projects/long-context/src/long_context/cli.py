"""Command line of long-context: a thin layer over the library (see `long-context --help`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, atomic_write, build_config, cli_entry, emit_json

from .config import DemoConfig, ModelConfig, StreamConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="long-context",
        description="RoPE scaling, tiled attention, passkey retrieval, StreamingLLM — chapter 7.1 "
        "(长上下文技术) of LLM Full-Stack Engineering.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rope = commands.add_parser("rope", help="inv_freq and attention factor of a model config.json")
    rope.add_argument("--config", type=Path, required=True, help="a model config.json")
    rope.add_argument(
        "--seq-len", type=int, default=None, help="tokens in the sequence (dynamic/longrope)"
    )
    rope.add_argument("--rope-scaling", default=None, help="override the config's rope_type")
    rope.add_argument("--factor", type=float, default=None, help="override the config's factor")
    rope.add_argument("--json", action="store_true", help="print one JSON object")

    attn = commands.add_parser(
        "attention", help="tiled attention over q/k/v from a safetensors file"
    )
    attn.add_argument(
        "--input", type=Path, required=True, help="safetensors with q (B,H,Tq,D), k, v (B,Hkv,Tk,D)"
    )
    attn.add_argument(
        "--output", type=Path, required=True, help="safetensors to write `out` (B,H,Tq,D) to"
    )
    attn.add_argument("--causal", action="store_true", help="causal mask, aligned bottom-right")
    attn.add_argument("--block-size", type=int, default=128, help="query and key tile size")
    attn.add_argument("--overwrite", action="store_true", help="replace an existing --output")

    for name, what in (
        ("passkey", "passkey retrieval"),
        ("needle", "needle in a haystack of prose"),
    ):
        sub = commands.add_parser(
            name, help=f"{what}: per-trial records and a depth x length heatmap"
        )
        sub.add_argument(
            "--trials",
            type=Path,
            required=True,
            help='JSONL lines {"passkey": "48213", "length": 1024, "depth": 0.5}',
        )
        sub.add_argument(
            "--output", type=Path, required=True, help="folder for trials.jsonl and heatmap.png"
        )
        sub.add_argument("--overwrite", action="store_true", help="replace an existing --output")
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        add_config_args(sub, ModelConfig, config_file=False)

    stream = commands.add_parser(
        "stream", help="StreamingLLM perplexity over a long stream with S sinks + W recent tokens"
    )
    stream.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_args(stream, StreamConfig, config_file=False)

    bench = commands.add_parser("bench", help="tiled vs SDPA vs materialised: time and peak memory")
    bench.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    bench.add_argument("--block-size", type=int, default=256, help="tile size of ours")
    bench.add_argument("--repeats", type=int, default=3, help="timed repeats per path and length")
    bench.add_argument("--time-max", type=int, default=8192, help="time only lengths up to this")
    bench.add_argument("--naive-max", type=int, default=4096, help="run the O(T^2) path up to this")
    bench.add_argument("--plot", type=Path, default=None, help="write a memory-vs-T PNG here")
    bench.add_argument("--json", action="store_true", help="print one JSON object")

    demo = commands.add_parser(
        "demo", help="RoPE vs transformers, tiled vs SDPA at 4k, passkey at 1k"
    )
    add_config_args(demo, DemoConfig)
    return parser


def _rope(args: argparse.Namespace) -> int:
    from .rope import RopeSpec, rope_frequencies

    try:
        config = json.loads(args.config.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"config file {args.config} not found; pass a model config.json") from exc
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{args.config} is not valid JSON ({exc}); pass a model config.json"
        ) from exc
    if args.seq_len is not None and args.seq_len < 1:
        raise UserError(f"--seq-len must be >= 1 (got {args.seq_len})")
    spec = RopeSpec.from_config(config, rope_type=args.rope_scaling, factor=args.factor)
    inv_freq, factor = rope_frequencies(spec, args.seq_len)
    result = {
        "rope_type": spec.rope_type,
        "inv_freq": inv_freq.tolist(),
        "attention_factor": factor,
    }
    if args.json:
        emit_json(result)
    else:
        print(
            f"rope_type {spec.rope_type}, theta {spec.theta:g}, head_dim {spec.head_dim}, "
            f"attention factor {factor:.6f}"
        )
        print("inv_freq:", " ".join(f"{x:.4e}" for x in result["inv_freq"]))
    return 0


def _attention(args: argparse.Namespace) -> int:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save

    from .attention import tiled_attention

    if args.output.exists() and not args.overwrite:
        raise UserError(
            f"{args.output} already exists; pass --overwrite or choose another --output"
        )
    try:
        tensors = load_file(str(args.input))
    except FileNotFoundError as exc:
        raise UserError(f"{args.input} not found; pass a safetensors file with q, k, v") from exc
    except SafetensorError as exc:
        raise UserError(f"{args.input} is not a safetensors file ({exc})") from exc
    missing = {"q", "k", "v"} - tensors.keys()
    if missing:
        raise UserError(f"{args.input} lacks tensor(s) {sorted(missing)}; it needs q, k and v")
    if any(tensors[n].dtype != torch.float32 for n in "qkv"):
        raise UserError("q, k and v must be float32")
    with torch.inference_mode():
        out = tiled_attention(
            tensors["q"],
            tensors["k"],
            tensors["v"],
            causal=args.causal,
            block_q=args.block_size,
            block_k=args.block_size,
        )
    with atomic_write(args.output, "wb") as handle:
        handle.write(save({"out": out.contiguous()}))
    print(f"wrote out {tuple(out.shape)} to {args.output}")
    return 0


def _retrieval(args: argparse.Namespace) -> int:
    from .model import load_long_model
    from .passkey import PASSKEY, needle_haystack, read_trials, run_trials, write_run

    cfg = build_config(ModelConfig, args)
    trials = read_trials(args.trials)
    if args.output.exists() and not args.overwrite:
        raise UserError(
            f"{args.output} already exists; pass --overwrite or choose another --output"
        )
    model, tokenizer, spec = load_long_model(
        cfg.model,
        rope_type=cfg.rope_scaling,
        factor=cfg.factor,
        original_length=cfg.original_length,
        attn=cfg.attention,
        block_size=cfg.block_size,
        device=cfg.device,
    )
    haystack = PASSKEY if args.command == "passkey" else needle_haystack()
    records = run_trials(model, tokenizer, trials, haystack)
    title = f"{args.command}: {cfg.model}, rope {spec.rope_type}" + (
        f" x{cfg.factor:g}" if cfg.factor else ""
    )
    summary = write_run(records, args.output, title, overwrite=args.overwrite)
    if args.json:
        emit_json(summary)
    else:
        print(
            f"{summary['correct']}/{summary['n']} correct ({summary['accuracy']:.0%}); "
            f"records and heatmap in {args.output}"
        )
    return 0


def _stream(args: argparse.Namespace) -> int:
    from .model import load_long_model
    from .stream import stream_ids, streaming_nll

    cfg = build_config(StreamConfig, args)
    model, tokenizer, _ = load_long_model(
        cfg.model,
        rope_type=cfg.rope_scaling,
        factor=cfg.factor,
        original_length=cfg.original_length,
        attn=cfg.attention,
        block_size=cfg.block_size,
        device=cfg.device,
    )
    ids = stream_ids(tokenizer, cfg.tokens).to(model.device)
    result = streaming_nll(model, ids, sinks=cfg.sinks, window=cfg.window, chunk=cfg.chunk)
    if not args.json:
        print(
            f"{cfg.tokens} tokens, {cfg.sinks} sinks + {cfg.window} window: perplexity "
            f"{result['ppl']:.3f} (first window {result['first_window_ppl']:.3f}, last quarter "
            f"{result['last_quarter_ppl']:.3f})"
        )
    emit_json(result)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    if min(args.lengths) < 1 or args.block_size < 1 or args.repeats < 1:
        raise UserError("--lengths, --block-size and --repeats must be >= 1")
    result = run_bench(
        args.lengths,
        block=args.block_size,
        repeats=args.repeats,
        time_max=args.time_max,
        naive_max=args.naive_max,
        plot=args.plot,
    )
    print(result.pop("table"))
    emit_json(result)
    return 0


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "rope":
        return _rope(args)
    if args.command == "attention":
        return _attention(args)
    if args.command in ("passkey", "needle"):
        return _retrieval(args)
    if args.command == "stream":
        return _stream(args)
    if args.command == "bench":
        return _bench(args)
    from .demo import run_demo

    emit_json(run_demo(build_config(DemoConfig, args)))
    return 0
