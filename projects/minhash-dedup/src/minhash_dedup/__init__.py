"""minhash-dedup: a corpus-cleaning pipeline for LLM training data (chapter 3.1, 数据工程基础).

normalise -> exact dedup -> MinHash LSH near dedup -> Gopher/C4 quality -> PII -> toxicity, on one
process, a worker pool or Ray Data. Public API: `run_pipeline(inputs, output, PipelineConfig())`,
the stage building blocks (`signatures`, `optimal_bands`, `candidate_pairs`, `quality_verdict`,
`redact`, the scorers) and the benchmark (`run_bench`).
"""

from .benchmark import BenchConfig, run_bench
from .config import STAGES, PipelineConfig
from .dedup import DedupIndex, IndexParams, index_batch
from .demo import DemoConfig, run_demo
from .filters import FilterStage, Outcome
from .lsh import UnionFind, candidate_pairs, clusters, jaccard
from .minhash import (
    band_keys,
    batch_shingle_hashes,
    optimal_bands,
    permutations,
    shingle_hashes,
    signatures,
)
from .normalize import clean_text, dedup_key
from .pii import luhn_ok, redact
from .pipeline import run_pipeline
from .quality import quality_metrics, quality_verdict
from .readers import iter_inputs
from .toxicity import ClassifierScorer, JudgeScorer, WordListScorer, make_scorer

__all__ = [
    "STAGES", "BenchConfig", "ClassifierScorer", "DedupIndex", "DemoConfig", "FilterStage",
    "IndexParams", "JudgeScorer", "Outcome", "PipelineConfig", "UnionFind", "WordListScorer",
    "band_keys", "batch_shingle_hashes", "candidate_pairs", "clean_text", "clusters", "dedup_key",
    "index_batch", "iter_inputs", "jaccard", "luhn_ok", "make_scorer", "optimal_bands",
    "permutations", "quality_metrics", "quality_verdict", "redact", "run_bench", "run_demo",
    "run_pipeline", "shingle_hashes", "signatures",
]
