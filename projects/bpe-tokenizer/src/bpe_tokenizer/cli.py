"""Command line of bpe-tokenizer: a thin layer over the library (see `bpe-tokenizer --help`).

    bpe-tokenizer train [INPUT ...] --vocab-size 4096 --output DIR    writes DIR/tokenizer.json
    bpe-tokenizer encode --tokenizer smollm2 --json FILE             one JSON list of ids
    bpe-tokenizer decode --tokenizer smollm2 IDS.json                 the text back
    bpe-tokenizer stats | embeddings ... | demo | bench --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from llm_shared import (
    UserError,
    add_config_args,
    build_config,
    cli_entry,
    emit_json,
    markdown_table,
)

from .config import BenchConfig, DemoConfig, StatsConfig, TrainConfig

TOKENIZER_HELP = "'smollm2' (the embedded model's), a directory with tokenizer.json, or the file"


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a byte-level BPE and save a Hugging Face tokenizer.json",
        description="Train byte-level BPE (incremental pair counts, heap of pairs) on text files, "
        "folders, .jsonl files or built-in corpora (corpus:topics, corpus:docstrings, "
        "corpus:sources; default corpus:topics, the Python docs). Invalid UTF-8 in files is "
        "trained on as raw bytes. Example: bpe-tokenizer train notes/ --vocab-size 2048 "
        "--output tok/")
    train.add_argument("inputs", nargs="*", metavar="INPUT",
                       help="text files, folders, .jsonl files or corpus:KIND[,KIND]")
    train.add_argument("--output", required=True, type=Path,
                       help="directory to write tokenizer.json into (or a .json file path)")
    train.add_argument("--json", action="store_true", help="print a JSON summary as last line")
    train.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                       help="save a checkpoint beside the output every N merges (0: never; "
                       "default 1000)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint of an interrupted run with the same "
                       "inputs and settings (same result as an uninterrupted run)")
    add_config_args(train, TrainConfig)


def _add_encode_decode(commands: argparse._SubParsersAction) -> None:
    encode = commands.add_parser(
        "encode", help="text -> token ids", description="Encode files (or --text) to ids. "
        "Special tokens in the text are an error unless --allow-special names them (or 'all'); "
        "--ordinary encodes them as plain text (tiktoken's contract). Files must be UTF-8. "
        "Example: bpe-tokenizer encode --tokenizer smollm2 --json notes.txt")
    encode.add_argument("files", nargs="*", metavar="FILE", help="UTF-8 files ('-' = stdin)")
    encode.add_argument("--text", help="encode this string instead of files")
    encode.add_argument("--tokenizer", default="smollm2", help=TOKENIZER_HELP)
    encode.add_argument("--json", action="store_true",
                        help="print each input's ids as one JSON list per line (nothing else)")
    encode.add_argument("--allow-special", nargs="+", default=[], metavar="TOKEN",
                        help="special tokens to encode as their ids ('all' for every one)")
    encode.add_argument("--ordinary", action="store_true",
                        help="encode special-token strings as ordinary text")
    decode = commands.add_parser(
        "decode", help="token ids -> text", description="Decode JSON lists of ids (as printed "
        "by `encode --json`) back to text, written as raw bytes. Example: bpe-tokenizer encode "
        "--json a.txt > ids.json && bpe-tokenizer decode ids.json")
    decode.add_argument("files", nargs="*", metavar="FILE",
                        help="files with one JSON list of ids per line ('-' or none = stdin)")
    decode.add_argument("--ids", help="a JSON list of ids given inline, e.g. '[19556, 905]'")
    decode.add_argument("--tokenizer", default="smollm2", help=TOKENIZER_HELP)
    decode.add_argument("--output", type=Path, help="write the bytes to this file, not stdout")


def _add_stats(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser(
        "stats", help="compression of several tokenizers side by side (table + PNG)",
        description="Train ours at several vocab sizes on INPUTs (default corpus:topics), then "
        "measure bytes/token, tokens/word and vocabulary use on held-out text for ours, "
        "SmolLM2's BPE and MiniLM's WordPiece. Example: bpe-tokenizer stats --plot stats.png")
    stats.add_argument("inputs", nargs="*", metavar="INPUT", help="training inputs (as train)")
    stats.add_argument("--json", action="store_true", help="print the rows as a JSON last line")
    add_config_args(stats, StatsConfig)


def _add_embeddings(commands: argparse._SubParsersAction) -> None:
    emb = commands.add_parser(
        "embeddings", help="explore SmolLM2's input embeddings and sentence similarity",
        description="Words are looked up as one SmolLM2 token (' king' preferred to 'king'); "
        "#ID names a token id. Example: bpe-tokenizer embeddings analogy king man woman")
    actions = emb.add_subparsers(dest="action", required=True, metavar="ACTION")
    near = actions.add_parser("neighbours", aliases=["neighbors"],
                              help="tokens nearest to a token (cosine similarity)")
    near.add_argument("word")
    analogy = actions.add_parser("analogy", help="tokens nearest to A - B + C")
    analogy.add_argument("a")
    analogy.add_argument("b")
    analogy.add_argument("c")
    for sub in (near, analogy):
        sub.add_argument("-k", type=int, default=10, help="how many neighbours (default 10)")
    plot = actions.add_parser("plot", help="2-D PCA projection of tokens as a PNG")
    plot.add_argument("words", nargs="+")
    plot.add_argument("--output", type=Path, default=Path("embeddings.png"), help="PNG path")
    similar = actions.add_parser("similarity", help="cosine similarity of sentences "
                                 "(all-MiniLM-L6-v2 sentence encoder)")
    similar.add_argument("sentences", nargs="+")
    for sub in (near, analogy, plot, similar):
        sub.add_argument("--json", action="store_true", help="print a JSON last line")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpe-tokenizer",
        description="Byte-level BPE: train, encode/decode, Hugging Face tokenizer.json, "
        "compression stats and an embedding explorer - chapter 1.3 (语言的基石：分词与嵌入).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(commands)
    _add_encode_decode(commands)
    _add_stats(commands)
    _add_embeddings(commands)
    demo = commands.add_parser("demo", help="train 2k tokens on the Python docs, compare to "
                               "SmolLM2 (about 20 s)")
    add_config_args(demo, DemoConfig)
    bench = commands.add_parser(
        "bench", help="training time vs HF tokenizers and a recount baseline, encode MB/s vs "
        "tiktoken and HF, memory vs corpus size", description="Same-process, alternating, "
        "median timings (several minutes: the recount baseline is slow by design).")
    bench.add_argument("--json", action="store_true", help="last line: one JSON object")
    add_config_args(bench, BenchConfig)
    return parser


def _read_text(name: str) -> str:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {name} ({exc.strerror}); check the path") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start}); encode UTF-8 text (convert with iconv), training accepts "
                        "raw bytes") from None


def cmd_train(args: argparse.Namespace) -> int:
    from .checkpoint import checkpoint_path, train_resumable
    from .hf_format import save_tokenizer
    from .inputs import iter_texts

    config = build_config(TrainConfig, args)
    if args.checkpoint_every < 0:
        raise UserError(f"--checkpoint-every must be >= 0 (got {args.checkpoint_every})")
    start = time.perf_counter()
    tokenizer = train_resumable(iter_texts(args.inputs, jsonl_field=config.jsonl_field), config,
                                args.inputs, args.output, resume=args.resume,
                                every=args.checkpoint_every)
    seconds = time.perf_counter() - start
    path = save_tokenizer(tokenizer, args.output)
    checkpoint_path(args.output).unlink(missing_ok=True)
    print(f"trained {tokenizer.vocab_size} tokens ({len(tokenizer.merges)} merges) in "
          f"{seconds:.2f} s -> {path}")
    if tokenizer.vocab_size < config.vocab_size:
        print(f"note: stopped at {tokenizer.vocab_size} < {config.vocab_size}: no pair occurs "
              f"{config.min_frequency}+ times; use more text or a lower --min-frequency")
    if args.json:
        emit_json({"vocab_size": tokenizer.vocab_size, "merges": len(tokenizer.merges),
                   "train_seconds": round(seconds, 3), "output": str(path)})
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from .hf_format import load_tokenizer

    if args.text is None and not args.files:
        raise UserError("nothing to encode; pass FILE(s), '-' for stdin, or --text STRING")
    tokenizer = load_tokenizer(args.tokenizer)
    allowed = "all" if args.allow_special == ["all"] else args.allow_special
    texts = [args.text] if args.text is not None else [_read_text(f) for f in args.files]
    for text in texts:
        if args.ordinary:
            ids = tokenizer.encode(text, allowed_special=allowed, disallowed_special=())
        else:
            ids = tokenizer.encode(text, allowed_special=allowed)
        if args.json:
            print(json.dumps(ids))
        else:
            print(" ".join(map(str, ids)))
            print(f"{len(ids)} tokens, {len(text.encode('utf-8')) / max(len(ids), 1):.2f} "
                  "bytes/token", file=sys.stderr)
    return 0


def _parse_ids(source: str, where: str) -> list[list[int]]:
    lists = []
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids = json.loads(line)
        except json.JSONDecodeError:
            ids = None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise UserError(f"{where}:{number} is not a JSON list of integer ids; pass what "
                            "`bpe-tokenizer encode --json` printed")
        lists.append(ids)
    return lists


def cmd_decode(args: argparse.Namespace) -> int:
    from .hf_format import load_tokenizer

    if args.ids is not None:
        lists = _parse_ids(args.ids, "--ids")
    else:
        lists = [ids for name in (args.files or ["-"])
                 for ids in _parse_ids(_read_text(name), name)]
    tokenizer = load_tokenizer(args.tokenizer)
    data = b"".join(tokenizer.decode_bytes(ids) for ids in lists)
    if args.output is not None:
        from llm_shared import atomic_write

        with atomic_write(args.output, "wb") as handle:
            handle.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from llm_shared import corpus_text

    from .inputs import iter_texts
    from .stats import compare_tokenizers, plot_stats
    from .tokenizer import Tokenizer

    config = build_config(StatsConfig, args)
    inputs = args.inputs or ["corpus:topics"]
    ours = Tokenizer.train(iter_texts(inputs), max(config.vocab_sizes), pattern=config.pattern,
                           show_progress=True)
    text = corpus_text(tuple(config.eval_corpus.split(",")), max_chars=config.eval_chars)
    rows = compare_tokenizers(ours, config.vocab_sizes, text)
    print(f"trained on {', '.join(inputs)}; measured on {len(text):,} characters of "
          f"corpus:{config.eval_corpus}\n")
    print(markdown_table([r.row() for r in rows]))
    if config.plot:
        path = plot_stats(rows, config.plot, f"Tokenizers on {config.eval_corpus} "
                          f"({len(text.encode('utf-8')):,} bytes)")
        print(f"\nplot: {path}")
    if args.json:
        emit_json({"rows": [r.row() for r in rows]})
    return 0


def cmd_embeddings(args: argparse.Namespace) -> int:
    from .embeddings import EmbeddingExplorer, sentence_similarity

    if args.action == "similarity":
        sims = sentence_similarity(args.sentences)
        labels = [f"s{i + 1}" for i in range(len(args.sentences))]
        for label, sentence in zip(labels, args.sentences, strict=True):
            print(f"{label}: {sentence}")
        rows = [{"": label, **{other: round(float(sims[i, j]), 3)
                               for j, other in enumerate(labels)}}
                for i, label in enumerate(labels)]
        print(markdown_table(rows))
        result = {"similarity": [[round(float(v), 4) for v in row] for row in sims]}
    elif args.action == "plot":
        explorer = EmbeddingExplorer.load()
        path = explorer.plot_projection(args.words, args.output)
        print(f"projection of {len(args.words)} tokens -> {path}")
        result = {"output": str(path)}
    else:
        if args.k < 1:
            raise UserError(f"-k must be >= 1 (got {args.k})")
        explorer = EmbeddingExplorer.load()
        if args.action == "analogy":
            found = explorer.analogy(args.a, args.b, args.c, k=args.k)
            print(f"nearest to {args.a!r} - {args.b!r} + {args.c!r}:")
        else:
            found = explorer.neighbours(args.word, k=args.k)
            print(f"nearest to {args.word!r}:")
        for token, score in found:
            print(f"  {score:6.3f}  {token!r}")
        result = {"neighbours": [[token, round(score, 4)] for token, score in found]}
    if args.json:
        emit_json(result)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    emit_json(run_demo(build_config(DemoConfig, args)))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    result = run_bench(build_config(BenchConfig, args))
    if args.json:
        emit_json(result)
    return 0


COMMANDS = {"train": cmd_train, "encode": cmd_encode, "decode": cmd_decode, "stats": cmd_stats,
            "embeddings": cmd_embeddings, "demo": cmd_demo, "bench": cmd_bench}


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)
