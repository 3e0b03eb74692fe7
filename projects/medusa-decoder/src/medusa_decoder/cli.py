"""Command line of medusa-decoder: a thin layer over the library (see `medusa-decoder --help`).

Subcommands: train-heads, generate, bench, demo. Every one ends with a JSON line when asked
(`--json`; bench and demo always), errors are one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from llm_shared import add_config_args, build_config, cli_entry, emit_json, load_causal_lm

from .config import BenchConfig, DecodeConfig, DemoConfig, TrainHeadsConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medusa-decoder",
        description="Speculative decoding (n-gram lookup, self-speculative draft, Medusa heads, "
                    "hybrid) "
                    "that is exact under greedy decoding — chapter 7.3 (推理加速黑科技).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train-heads", help="train Medusa heads by self-distillation (base frozen)",
        description="Generate with the base model over the corpus, then train K residual heads "
                    "(+ an exit block for the draft) on its hidden states; writes "
                    "OUTPUT/heads.safetensors with measured accuracies. Checkpoints; --resume.")
    add_config_args(train, TrainHeadsConfig)
    gen = commands.add_parser(
        "generate", help="decode a prompt with one method",
        description="Decode --prompt with greedy, ngram, draft, medusa or hybrid; at temperature "
                    "0 every method returns the same tokens as plain greedy, in float32 and in "
                    "bfloat16 alike (the lean engine is batch invariant, see the README). --json "
                    "prints token ids, accepted lengths and timing.")
    gen.add_argument("--prompt", required=True, help="user message (chat template applied)")
    gen.add_argument("--raw", action="store_true", help="continue --prompt as raw text, "
                     "without the chat template")
    gen.add_argument("--json", action="store_true", help="end with one JSON line")
    add_config_args(gen, DecodeConfig)
    bench = commands.add_parser(
        "bench", help="tokens/s and accepted tokens per forward, ours vs HF",
        description="Times every method on chat and Python-docs prompts (eval split) against HF "
                    "generate (plain, prompt_lookup_num_tokens, assistant_model) in one process, "
                    "all in one dtype (float32 by default; --dtype bfloat16 is faster on CPUs "
                    "with AVX512-BF16). Methods run interleaved per prompt, in alternating "
                    "order, median of --repeats. Defaults: 2 prompts per kind x 96 tokens, 3 "
                    "repeats.")
    bench.add_argument("--json", action="store_true",
                       help="print only the JSON object on stdout (the table goes to stderr)")
    add_config_args(bench, BenchConfig)
    demo = commands.add_parser("demo", help="decode a few prompts with every method (< 90 s)",
                               description="Loads the packaged heads (or trains tiny ones), "
                                           "decodes chat and docs prompts with each method, "
                                           "prints accepted lengths and speedups.")
    add_config_args(demo, DemoConfig)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train-heads":
        from .train import train_heads

        config = build_config(TrainHeadsConfig, args)
        model, tokenizer = load_causal_lm(config.model, device=config.device)
        emit_json(train_heads(config, model, tokenizer))
    elif args.command == "generate":
        from .methods import Decoder

        config = build_config(DecodeConfig, args)
        decoder = Decoder(config)
        prompt = decoder.encode_prompt(args.prompt, chat=not args.raw)
        result = decoder.generate(prompt)
        text = decoder.tokenizer.decode(result.tokens, skip_special_tokens=True)
        if args.json:
            print(text)
            emit_json({"method": config.method, "text": text, **result.as_dict()})
        else:
            print(text)
            print(f"[{config.method}] {len(result.tokens)} tokens in {result.seconds:.2f} s, "
                  f"{result.mean_accepted:.2f} tokens per target forward")
    elif args.command == "bench":
        from .bench import run_bench

        config = build_config(BenchConfig, args)
        if args.json:
            with contextlib.redirect_stdout(sys.stderr):
                result = run_bench(config)
        else:
            result = run_bench(config)
        emit_json(result)
    elif args.command == "demo":
        from .demo import run_demo

        emit_json(run_demo(build_config(DemoConfig, args)))
    return 0
