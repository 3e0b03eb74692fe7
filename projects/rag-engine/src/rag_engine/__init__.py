"""rag-engine: retrieval-augmented generation as a knowledge-base tool (chapter 4.2, 检索增强生成).

Public API: `ingest` + `IngestConfig` (load, chunk, embed, store), `open_store` (`DirStore` or
`PgStore`), `Retriever` (BM25, dense, hybrid RRF, filters, MMR, rerank), `Engine` (store +
retriever + LLM: `search`, `ask`, `ingest`), `chunk_document`, the evaluation pieces
(`build_questions`, `evaluate_retrieval`, `evaluate_answers`) and `run_demo`.
"""

from .answer import Answer, answer
from .bm25 import BM25, tokenize
from .chunking import STRATEGIES, chunk_document, detect_headings
from .config import AskConfig, DemoConfig, EvalConfig, IngestConfig, SearchConfig, ServeConfig
from .demo import run_demo
from .engine import Engine
from .evalset import Question, build_questions, is_relevant, sample_questions
from .evaluate import evaluate_answers, evaluate_retrieval
from .ingest import IngestReport, ingest
from .loaders import discover, load_file
from .retrieve import Retriever, mmr, rrf
from .store import DirStore, Store, open_store
from .types import Chunk, Hit, SourceDocument

__all__ = [
    "BM25", "STRATEGIES", "Answer", "AskConfig", "Chunk", "DemoConfig", "DirStore", "Engine",
    "EvalConfig", "Hit", "IngestConfig", "IngestReport", "Question", "Retriever", "SearchConfig",
    "ServeConfig", "SourceDocument", "Store", "answer", "build_questions", "chunk_document",
    "detect_headings", "discover", "evaluate_answers", "evaluate_retrieval", "ingest",
    "is_relevant", "load_file", "mmr", "open_store", "rrf", "run_demo", "sample_questions",
    "tokenize",
]
