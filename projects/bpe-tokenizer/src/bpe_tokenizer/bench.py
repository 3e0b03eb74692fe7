"""Benchmarks against named peers in the same process (alternating, median): `bpe-tokenizer bench`.

1. Training time for one vocabulary on the Python docs (corpus:topics), end to end from text
   (pre-tokenize, count, merge), against Hugging Face `tokenizers`' BpeTrainer with the same
   regex, byte-level alphabet, vocabulary size and min_frequency.
2. The merge phase against the recount-every-merge baseline (baseline.py) on the same unique
   pre-tokens, run once (minutes), and a check that both produced identical merges.
3. Encode throughput (MB/s) on stdlib sources, document by document, single thread, against
   `tiktoken.Encoding` built from our ranks and against Hugging Face `tokenizers` loading our
   tokenizer.json; the ids of all three are compared. Our chunk cache starts empty in every run.
4. Memory: tracemalloc's peak of Python allocations while counting and training, on the Python
   docs, on the docs read 10 times (the same pre-tokens: the peak must not move) and on a 10x
   larger input of new text (the docs followed by stdlib sources: the peak grows only with the
   number of unique pre-tokens, never with the bytes of text).

Leaves out multi-threaded batch encoding (`encode_batch`), where Rust peers use both cores.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llm_shared import compare, iter_corpus, markdown_table

from .baseline import recount_train_bpe
from .config import BenchConfig
from .hf_format import save_tokenizer
from .inputs import count_pretokens
from .pretokenize import PreTokenizer, token_to_str
from .tokenizer import Tokenizer
from .trainer import train_bpe

MIN_FREQUENCY = 2  # HF BpeTrainer's usual setting; the same for every trainer here


def docs_texts() -> list[str]:
    return [d.text for d in iter_corpus(["topics"])]


def sources_texts(max_bytes: int) -> list[str]:
    texts, total = [], 0
    for document in iter_corpus(["sources"]):
        if total >= max_bytes:
            break
        texts.append(document.text)
        total += len(document.text.encode("utf-8"))
    return texts


def hf_train(texts: list[str], vocab_size: int, pattern: str):  # -> tokenizers.Tokenizer
    from tokenizers import Regex, models, pre_tokenizers, trainers
    from tokenizers import Tokenizer as HFTokenizer

    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=MIN_FREQUENCY,
                                  show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator(texts, trainer)
    return hf


def merge_strings(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    """Merges as Hugging Face writes them: pairs of byte-level strings ('Ġ', 't')."""
    return [(token_to_str(tokenizer.vocab[a]), token_to_str(tokenizer.vocab[b]))
            for a, b, _ in tokenizer.merges]


def bench_training(config: BenchConfig, texts: list[str]) -> dict[str, Any]:
    pretokenizer = PreTokenizer.from_pattern(config.pattern)
    ours = lambda: Tokenizer.train(texts, config.vocab_size, pattern=config.pattern,  # noqa: E731
                                   min_frequency=MIN_FREQUENCY)
    peer = lambda: hf_train(texts, config.vocab_size, pretokenizer.pattern)  # noqa: E731
    result = compare(ours, peer, repeats=config.repeats, names=("ours", "hf"))
    ours_merges = merge_strings(ours())
    hf_merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)
                 for m in json.loads(peer().to_str())["model"]["merges"]]
    same_prefix = next((i for i, (x, y) in enumerate(zip(ours_merges, hf_merges, strict=False))
                        if x != y), min(len(ours_merges), len(hf_merges)))
    return {"train_ours_s": round(result.median_a, 3), "train_hf_s": round(result.median_b, 3),
            "train_ours_over_hf": round(result.median_a / result.median_b, 2),
            "merges_shared_with_hf": round(len(set(ours_merges) & set(hf_merges))
                                           / len(ours_merges), 4),
            "merges_same_order_as_hf_until": same_prefix}


def bench_baseline(config: BenchConfig, texts: list[str]) -> dict[str, Any]:
    counts = count_pretokens(texts, PreTokenizer.from_pattern(config.pattern))
    size = config.baseline_vocab_size
    ours_seconds = []
    for _ in range(config.repeats):
        start = time.perf_counter()
        ours, _ = train_bpe(counts, size, min_frequency=MIN_FREQUENCY)
        ours_seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    baseline, _ = recount_train_bpe(counts, size, min_frequency=MIN_FREQUENCY)
    baseline_seconds = time.perf_counter() - start
    ours_median = sorted(ours_seconds)[len(ours_seconds) // 2]
    return {"baseline_vocab_size": size, "merge_ours_s": round(ours_median, 3),
            "merge_recount_s": round(baseline_seconds, 2),
            "recount_over_ours": round(baseline_seconds / ours_median, 1),
            "merges_identical_to_recount": ours == baseline}


def bench_encode(config: BenchConfig, docs: list[str]) -> dict[str, Any]:
    from tokenizers import Tokenizer as HFTokenizer

    ours = Tokenizer.train(docs, config.vocab_size, pattern=config.pattern,
                           min_frequency=MIN_FREQUENCY)
    texts = sources_texts(int(config.encode_mb * 1e6))
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        hf = HFTokenizer.from_file(str(save_tokenizer(ours, Path(tmp))))
    encoding = ours.to_tiktoken()

    def run_ours() -> list[list[int]]:
        ours._cache.clear()  # every run starts cold, as a fresh process would
        return [ours.encode_ordinary(t) for t in texts]

    def run_tiktoken() -> list[list[int]]:
        return [encoding.encode_ordinary(t) for t in texts]

    def run_hf() -> list[list[int]]:
        return [e.ids for e in (hf.encode(t, add_special_tokens=False) for t in texts)]

    vs_tiktoken = compare(run_ours, run_tiktoken, repeats=config.repeats,
                          names=("ours", "tiktoken"))
    vs_hf = compare(run_ours, run_hf, repeats=config.repeats, names=("ours", "hf"))
    ids = run_ours()
    return {"encode_mb": round(megabytes, 2),
            "encode_ours_mb_s": round(megabytes / vs_tiktoken.median_a, 2),
            "encode_tiktoken_mb_s": round(megabytes / vs_tiktoken.median_b, 2),
            "encode_hf_mb_s": round(megabytes / vs_hf.median_b, 2),
            "tiktoken_over_ours": round(vs_tiktoken.median_a / vs_tiktoken.median_b, 2),
            "hf_over_ours": round(vs_hf.median_a / vs_hf.median_b, 2),
            "docs_ids_differ_tiktoken": sum(a != b for a, b in zip(ids, run_tiktoken(),
                                                                   strict=True)),
            "docs_ids_differ_hf": sum(a != b for a, b in zip(ids, run_hf(), strict=True))}


def _peak_training_memory(texts: Iterator[str], config: BenchConfig) -> tuple[float, int, int]:
    """(peak MiB of Python allocations, input bytes, unique pre-tokens) for count + train."""
    seen = [0]

    def counted() -> Iterator[str]:
        for text in texts:
            seen[0] += len(text.encode("utf-8"))
            yield text

    tracemalloc.start()
    counts = count_pretokens(counted(), PreTokenizer.from_pattern(config.pattern))
    train_bpe(counts, config.vocab_size, min_frequency=MIN_FREQUENCY)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, seen[0], len(counts)


def bench_memory(config: BenchConfig, docs_bytes: int) -> dict[str, Any]:
    def larger() -> Iterator[str]:
        yield from (d.text for d in iter_corpus(["topics"]))
        total = docs_bytes
        for document in iter_corpus(["sources"]):
            if total >= 10 * docs_bytes:
                return
            total += len(document.text.encode("utf-8"))
            yield document.text

    def repeated() -> Iterator[str]:
        for _ in range(10):
            yield from (d.text for d in iter_corpus(["topics"]))

    small_peak, small_bytes, small_unique = _peak_training_memory(
        (d.text for d in iter_corpus(["topics"])), config)
    same_peak, same_bytes, _ = _peak_training_memory(repeated(), config)
    large_peak, large_bytes, large_unique = _peak_training_memory(larger(), config)
    return {"memory_1x_input_mb": round(small_bytes / 1e6, 2),
            "memory_1x_peak_mib": round(small_peak, 1), "memory_1x_unique_pretokens": small_unique,
            "memory_10x_repeated_input_mb": round(same_bytes / 1e6, 2),
            "memory_10x_repeated_peak_mib": round(same_peak, 1),
            "memory_10x_new_text_input_mb": round(large_bytes / 1e6, 2),
            "memory_10x_new_text_peak_mib": round(large_peak, 1),
            "memory_10x_new_text_unique_pretokens": large_unique,
            "memory_growth_new_text": round(large_peak / small_peak, 2)}


def run_bench(config: BenchConfig) -> dict[str, Any]:
    docs = docs_texts()
    result: dict[str, Any] = {"vocab_size": config.vocab_size, "pattern": config.pattern}
    sections = (("training vs HF tokenizers", lambda: bench_training(config, docs)),
                ("merges vs recount baseline", lambda: bench_baseline(config, docs)),
                ("encode throughput", lambda: bench_encode(config, docs)),
                ("memory vs input size", lambda: bench_memory(
                    config, sum(len(t.encode("utf-8")) for t in docs))))
    for title, run in sections:
        start = time.perf_counter()
        figures = run()
        print(f"\n## {title} ({time.perf_counter() - start:.0f} s)\n", flush=True)
        print(markdown_table([{"figure": k, "value": v} for k, v in figures.items()]), flush=True)
        result.update(figures)
    return result
