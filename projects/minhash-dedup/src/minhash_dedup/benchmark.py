"""Benchmark: planted near-duplicates, precision/recall vs exact Jaccard, speed vs datasketch.

1. `synthetic_corpus`: random Zipfian "words"; a share of the base documents gets 1-3 variants
   with a random fraction of word positions replaced, which spreads the variants' true Jaccard
   (word 5-gram sets) over the whole (0, 1] range. Ground truth: exact Jaccard of every pair
   inside a family; pairs across families share no 5-gram (independent random text) and count
   as negatives.
2. For each threshold t: LSH candidate pairs (documents sharing a bucket in any band) of ours and
   of datasketch `MinHashLSH` (same num_perm, same permutations, same b x r from the same
   optimisation), precision and recall against {pairs with Jaccard >= t}; "ours --verify" = the
   recall-leaning b x r that `--verify` picks, candidates then checked by exact Jaccard, and
   "datasketch --verify" = the same thing done with datasketch: `MinHashLSH(weights=(0.2, 0.8))`
   (the same recall-leaning b x r) and the same exact Jaccard of word 5-gram sets on each
   candidate pair. Precision 1.0 of both verified rows holds by construction (the verifier and
   the ground truth compute the same Jaccard); the comparison that says something is recall and
   speed at equal settings.
3. Speed: signatures + LSH from raw texts, ours (batched numpy) against datasketch used as its
   docs show (one `MinHash` per document, `update_batch`, `MinHashLSH.insert` then `query`),
   alternating runs, median (`llm_shared.compare`); ours --verify against datasketch --verify
   (shingle sets kept, candidates checked) the same way. Leaves out disk I/O.
Run: `uv run minhash-dedup bench` (quick) or `uv run python bench/bench_minhash.py` (README).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from llm_shared import compare, markdown_table, param

from .config import VERIFY_FP_WEIGHT
from .dedup import IndexParams, index_batch
from .lsh import candidate_pairs, jaccard, verify_pairs
from .minhash import optimal_bands


@dataclass
class BenchConfig:
    docs: int = param(3000, help="documents in the synthetic corpus")
    words: int = param(200, help="words per document")
    dup_share: float = param(0.3, help="share of base documents that get planted variants")
    max_edit: float = param(0.25, help="largest fraction of words replaced in a variant")
    num_perm: int = param(128, help="MinHash permutations (both implementations)")
    thresholds: list[float] = param([0.5, 0.7, 0.8, 0.9], help="thresholds for precision/recall")
    speed_threshold: float = param(0.8, help="threshold of the timed runs")
    repeats: int = param(3, help="timed repeats of each implementation (alternating, median)")
    seed: int = param(0, help="corpus seed")
    perm_seed: int = param(1, help="MinHash permutation seed, the same for both (datasketch's "
                           "default is 1)")


def synthetic_corpus(c: BenchConfig) -> tuple[list[str], list[int]]:
    """(texts, family id of each text); texts in shuffled order."""
    rng = np.random.default_rng(c.seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(20_000)]
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    texts: list[list[int]] = []
    family: list[int] = []
    fam = 0
    while len(texts) < c.docs:
        base = rng.choice(len(vocab), c.words, p=p)
        texts.append(list(base))
        family.append(fam)
        if rng.random() < c.dup_share:
            for _ in range(rng.integers(1, 4)):
                variant = base.copy()
                edits = rng.random(c.words) < rng.uniform(0.0, c.max_edit)
                variant[edits] = rng.choice(len(vocab), int(edits.sum()), p=p)
                texts.append(list(variant))
                family.append(fam)
        fam += 1
    order = rng.permutation(len(texts))[: c.docs]
    return [" ".join(vocab[w] for w in texts[i]) for i in order], [family[i] for i in order]


def true_pairs(texts: list[str], family: list[int]) -> dict[tuple[int, int], float]:
    """Exact Jaccard of word 5-gram sets for every pair inside a family."""
    members: dict[int, list[int]] = {}
    for i, f in enumerate(family):
        members.setdefault(f, []).append(i)
    sets = {}
    out = {}
    for group in members.values():
        for i in group:
            words = texts[i].split()
            sets[i] = {tuple(words[k:k + 5]) for k in range(len(words) - 4)}
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                i, j = sorted((group[x], group[y]))
                out[(i, j)] = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
    return out


def _bucket_pairs(keys: np.ndarray) -> set[tuple[int, int]]:
    """All pairs sharing a bucket in some band (not only the star edges the pipeline uses)."""
    pairs: set[tuple[int, int]] = set()
    for band in range(keys.shape[1]):
        buckets: dict[int, list[int]] = {}
        for i, k in enumerate(keys[:, band].tolist()):
            buckets.setdefault(k, []).append(i)
        for group in buckets.values():
            pairs.update((group[x], group[y]) for x in range(len(group))
                         for y in range(x + 1, len(group)))
    return pairs


def ours_keys(texts: list[str], threshold: float, num_perm: int, seed: int = 1,
              fp_weight: float = 0.5, verify: bool = False) -> tuple[np.ndarray, list]:
    """(N, b) band keys (+ shingle sets with verify), batches of 1000 documents, as the pipeline
    computes them."""
    b, r = optimal_bands(threshold, num_perm, fp_weight)
    params = IndexParams(False, False, True, "word", 5, num_perm, seed, b, r, verify, threshold)
    batches = [index_batch(texts[s:s + 1000], params) for s in range(0, len(texts), 1000)]
    sets = [x for batch in batches for x in (batch.shingle_sets or [])]
    return np.concatenate([batch.keys for batch in batches]), sets


def datasketch_minhashes(texts: list[str], num_perm: int, seed: int = 1) -> list[Any]:
    from datasketch import MinHash

    out = []
    for text in texts:
        words = text.split()
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([" ".join(words[k:k + 5]).encode("utf8") for k in range(len(words) - 4)])
        out.append(m)
    return out


def datasketch_pairs(minhashes: list[Any], threshold: float, num_perm: int,
                     weights: tuple[float, float] = (0.5, 0.5)) -> set[tuple[int, int]]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    return {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if j != i}


def shingle_sets(texts: list[str]) -> list[set[str]]:
    """Word 5-gram sets, as a datasketch user would keep them to verify candidates."""
    out = []
    for text in texts:
        words = text.split()
        out.append({" ".join(words[k:k + 5]) for k in range(len(words) - 4)})
    return out


def datasketch_verified(minhashes: list[Any], sets: list[set[str]], threshold: float,
                        num_perm: int) -> set[tuple[int, int]]:
    """datasketch with --verify's settings: FP weight 0.2, then exact Jaccard per candidate."""
    pairs = datasketch_pairs(minhashes, threshold, num_perm,
                             (VERIFY_FP_WEIGHT, 1 - VERIFY_FP_WEIGHT))
    return {(i, j) for i, j in pairs
            if len(sets[i] & sets[j]) / max(len(sets[i] | sets[j]), 1) >= threshold}


def _pr(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float]:
    hit = len(predicted & truth)
    return (hit / len(predicted) if predicted else 1.0), (hit / len(truth) if truth else 1.0)


def run_bench(c: BenchConfig, timed: bool = True) -> dict[str, Any]:
    """Rows per threshold: "ours" (datasketch's b x r), "ours --verify" (the b x r --verify picks,
    then exact Jaccard), "datasketch"; with `timed`, docs/s of each against datasketch."""
    texts, family = synthetic_corpus(c)
    truth_all = true_pairs(texts, family)
    ds_minhashes = datasketch_minhashes(texts, c.num_perm, c.perm_seed)
    ds_sets = shingle_sets(texts)
    rows = []
    for t in c.thresholds:
        truth = {p for p, j in truth_all.items() if j >= t}
        ours = _bucket_pairs(ours_keys(texts, t, c.num_perm, c.perm_seed)[0])
        keys, sets = ours_keys(texts, t, c.num_perm, c.perm_seed, VERIFY_FP_WEIGHT, verify=True)
        verified = {p for p in _bucket_pairs(keys) if jaccard(sets[p[0]], sets[p[1]]) >= t}
        theirs = datasketch_pairs(ds_minhashes, t, c.num_perm)
        theirs_verified = datasketch_verified(ds_minhashes, ds_sets, t, c.num_perm)
        b, r = optimal_bands(t, c.num_perm)
        vb, vr = optimal_bands(t, c.num_perm, VERIFY_FP_WEIGHT)
        row: dict[str, Any] = {"threshold": t, "b x r": f"{b} x {r}",
                               "--verify b x r": f"{vb} x {vr}", "true pairs": len(truth)}
        for name, pred in (("ours", ours), ("ours --verify", verified), ("datasketch", theirs),
                           ("datasketch --verify", theirs_verified)):
            precision, recall = _pr(pred, truth)
            row[f"{name} P"] = round(precision, 4)
            row[f"{name} R"] = round(recall, 4)
        rows.append(row)

    def ours_run() -> None:  # the pipeline's path: keys, then star pairs per bucket
        candidate_pairs(ours_keys(texts, c.speed_threshold, c.num_perm, c.perm_seed)[0])

    def ours_verify_run() -> None:  # + shingle sets, recall-leaning b x r, exact Jaccard
        keys, sets = ours_keys(texts, c.speed_threshold, c.num_perm, c.perm_seed,
                               VERIFY_FP_WEIGHT, verify=True)
        verify_pairs(candidate_pairs(keys), sets, c.speed_threshold)

    def peer_run() -> None:
        datasketch_pairs(datasketch_minhashes(texts, c.num_perm, c.perm_seed), c.speed_threshold,
                         c.num_perm)

    def peer_verify_run() -> None:
        datasketch_verified(datasketch_minhashes(texts, c.num_perm, c.perm_seed),
                            shingle_sets(texts), c.speed_threshold, c.num_perm)

    if not timed:
        return {"rows": rows, "summary": {}}
    started = time.perf_counter()
    timing = compare(ours_run, peer_run, repeats=c.repeats, names=("ours", "datasketch"))
    # --verify against datasketch doing the same: same recall-leaning weights, same exact check.
    timing_verify = compare(ours_verify_run, peer_verify_run, repeats=c.repeats,
                            names=("ours --verify", "datasketch --verify"))
    speed_row = next(r for r in rows if r["threshold"] == c.speed_threshold) \
        if c.speed_threshold in c.thresholds else None
    summary = {
        "docs": len(texts), "words_per_doc": c.words, "num_perm": c.num_perm,
        "threshold": c.speed_threshold,
        "ours_docs_per_s": round(len(texts) / timing.median_a, 1),
        "ours_verify_docs_per_s": round(len(texts) / timing_verify.median_a, 1),
        "datasketch_docs_per_s": round(len(texts) / timing.median_b, 1),
        "datasketch_verify_docs_per_s": round(len(texts) / timing_verify.median_b, 1),
        "speedup": round(timing.ratio, 2),
        "speedup_verify": round(timing_verify.ratio, 2),
        "ours_recall": speed_row["ours R"] if speed_row else None,
        "ours_verify_recall": speed_row["ours --verify R"] if speed_row else None,
        "ours_verify_precision": speed_row["ours --verify P"] if speed_row else None,
        "datasketch_recall": speed_row["datasketch R"] if speed_row else None,
        "datasketch_precision": speed_row["datasketch P"] if speed_row else None,
        "datasketch_verify_recall": speed_row["datasketch --verify R"] if speed_row else None,
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    return {"rows": rows, "summary": summary}


def format_bench(result: dict[str, Any]) -> str:
    s = result["summary"]
    return (markdown_table(result["rows"]) + "\n\n"
            + markdown_table([
                {"implementation": "ours (numpy batches)", "docs/s": s["ours_docs_per_s"],
                 "speedup": s["speedup"], "recall": s["ours_recall"]},
                {"implementation": "datasketch MinHash + MinHashLSH",
                 "docs/s": s["datasketch_docs_per_s"], "speedup": 1.0,
                 "recall": s["datasketch_recall"]},
                {"implementation": "ours --verify (FP weight 0.2 + exact Jaccard)",
                 "docs/s": s["ours_verify_docs_per_s"], "speedup": s["speedup_verify"],
                 "recall": s["ours_verify_recall"]},
                {"implementation": "datasketch weights=(0.2, 0.8) + exact Jaccard",
                 "docs/s": s["datasketch_verify_docs_per_s"], "speedup": 1.0,
                 "recall": s["datasketch_verify_recall"]}])
            + f"\n\nspeedup vs datasketch (signatures + LSH, threshold {s['threshold']}): "
            f"{s['speedup']}x; both verified, same weights: {s['speedup_verify']}x")
