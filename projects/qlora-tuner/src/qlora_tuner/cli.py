"""Command line of qlora-tuner: a thin layer over the library (see `qlora-tuner COMMAND --help`).

make-task -> train -> eval -> merge, plus demo and bench. Every command ends its stdout with one
JSON object line; bad input is one `error: …` line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from llm_shared import UserError, add_config_args, build_config, cli_entry, emit_json

from .config import DemoConfig, EvalConfig, MergeConfig, TrainConfig

EXAMPLES = """examples:
  qlora-tuner make-task --output data/                       # data/train.jsonl, data/eval.jsonl
  qlora-tuner train --data data/train.jsonl --output runs/q --method qlora --steps 60
  qlora-tuner eval --adapter runs/q/adapter --data data/eval.jsonl --json
  qlora-tuner merge --adapter runs/q/adapter --output runs/q/merged
  qlora-tuner demo
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qlora-tuner", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="LoRA / QLoRA supervised fine-tuning from first principles, with adapters "
                    "in peft format — chapter 3.2 (微调你的专属模型) of LLM Full-Stack "
                    "Engineering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    task = commands.add_parser("make-task", help="write the embedded name-card task as chat JSONL",
                               description="Write OUTPUT/train.jsonl and OUTPUT/eval.jsonl: "
                               "'Last, First (age)' name cards; eval uses names train never sees.")
    task.add_argument("--output", type=Path, default=Path("data"), help="folder for the files")
    task.add_argument("--train-size", type=int, default=400, help="training examples")
    task.add_argument("--eval-size", type=int, default=50, help="held-out examples")
    task.add_argument("--seed", type=int, default=0, help="generator seed")

    train = commands.add_parser(
        "train", help="fine-tune (qlora, lora or full) and write OUTPUT/adapter in peft format",
        description="Supervised fine-tuning with loss on assistant tokens only. Writes "
        "OUTPUT/adapter (adapter_config.json + adapter_model.safetensors, loadable by "
        "peft.PeftModel.from_pretrained) or OUTPUT/model for --method full, metrics.json, and "
        "checkpoints/ when --save-every is set (continue with --resume).")
    add_config_args(train, TrainConfig)

    evaluate = commands.add_parser(
        "eval", help="exact-match accuracy of an adapter (or base/full model) on a JSONL",
        description="Greedy answers to each example's prompt (the conversation before its last "
        "assistant turn), compared exactly with that turn.")
    add_config_args(evaluate, EvalConfig)
    evaluate.add_argument("--json", action="store_true", help="print only the JSON line")

    merge = commands.add_parser(
        "merge", help="fold an adapter into its (dequantised) base; report the logit drift",
        description="Writes a full model (safetensors) and prints the max |logit difference| "
        "between the merged model and the adapter model on probe prompts.")
    add_config_args(merge, MergeConfig)

    demo = commands.add_parser("demo", help="short QLoRA run on the embedded task (< 90 s)",
                               description="Accuracy before -> after on held-out name cards.")
    add_config_args(demo, DemoConfig)

    bench = commands.add_parser(
        "bench", help="peak memory and step time: full vs LoRA vs QLoRA, ours vs peft",
        description="Each method runs in a fresh subprocess (peak memory is per process); ours "
        "vs peft LoRA step time is compared in one process, alternating, median.")
    bench.add_argument("--model", default="smollm2-135m-instruct", help="base model")
    bench.add_argument("--steps", type=int, default=3, help="timed steps per method")
    bench.add_argument("--repeats", type=int, default=3, help="alternating repeats ours vs peft")
    bench.add_argument("--batch-size", type=int, default=4, help="examples per step")
    bench.add_argument("--seq-len", type=int, default=64, help="tokens per example")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")
    return parser


def _eval(config: EvalConfig, quiet: bool) -> dict:
    from llm_shared import load_causal_lm

    from .adapter_io import load_with_adapter
    from .data import load_conversations
    from .evaluate import exact_match

    if config.adapter is None or config.data is None:
        raise UserError("eval needs --adapter FOLDER and --data FILE.jsonl")
    conversations = load_conversations(config.data)
    if config.limit:
        conversations = conversations[:config.limit]
    if (config.adapter / "adapter_config.json").is_file():
        model, tokenizer, _ = load_with_adapter(config.adapter, config.model, device=config.device)
    elif (config.adapter / "config.json").is_file():
        model, tokenizer = load_causal_lm(str(config.adapter), device=config.device)
    else:
        raise UserError(f"{config.adapter} holds neither an adapter nor a model; pass RUN/adapter")
    result = exact_match(model, tokenizer, conversations, config.batch_size, config.max_new_tokens)
    if not quiet:
        for pred, ref in result.predictions[:5]:
            print(f"{'ok ' if pred == ref else 'no '} {pred!r}  (want {ref!r})")
    return result.summary()


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "make-task":
        from .task import make_task, write_jsonl

        if args.train_size <= 0 or args.eval_size <= 0:
            raise UserError("--train-size and --eval-size must be > 0")
        train_records, eval_records = make_task(args.train_size, args.eval_size, args.seed)
        write_jsonl(args.output / "train.jsonl", train_records)
        write_jsonl(args.output / "eval.jsonl", eval_records)
        print(f"wrote {len(train_records)} + {len(eval_records)} examples to {args.output}")
        emit_json({"train": str(args.output / "train.jsonl"),
                   "eval": str(args.output / "eval.jsonl")})
    elif args.command == "train":
        from .train import train

        summary = train(build_config(TrainConfig, args))
        print(f"{summary['method']}: {summary['steps']} steps, eval loss "
              f"{summary['eval_loss_before']} -> {summary['eval_loss_after']}, "
              f"wrote {summary['output']}", file=sys.stderr)
        emit_json(summary)
    elif args.command == "eval":
        emit_json(_eval(build_config(EvalConfig, args), args.json))
    elif args.command == "merge":
        from .merge import merge

        emit_json(merge(build_config(MergeConfig, args)))
    elif args.command == "demo":
        from .demo import run_demo

        emit_json(run_demo(build_config(DemoConfig, args)))
    elif args.command == "bench":
        from .benchmark import run_bench

        if min(args.steps, args.repeats, args.batch_size, args.seq_len) <= 0:
            raise UserError("--steps, --repeats, --batch-size and --seq-len must be > 0")
        emit_json(run_bench(args.model, args.steps, args.repeats, args.batch_size, args.seq_len,
                            quiet=args.json))
    return 0
