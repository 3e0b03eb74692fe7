"""Settings of rag-engine; each field's help is the reference and becomes a CLI flag.

One dataclass per command, sharing `StoreConfig` (where the store is, which encoder). Precedence:
defaults -> `--config file.toml` -> flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_ENCODER, EMBEDDED_LLM, KINDS, UserError, param

from .chunking import STRATEGIES

MODES = ("bm25", "dense", "hybrid")


@dataclass
class StoreConfig:
    store: str = param("rag-store", help="store directory, or a postgresql://user:pass@host/db URL "
                       "(PostgreSQL with pgvector)")
    encoder: str = param(EMBEDDED_ENCODER, help="sentence encoder: all-minilm-l6-v2, tiny-bert or "
                         "a local model folder; must match the one the store was built with")
    device: str = param("auto", help="auto, cpu, cuda or mps")


@dataclass
class IngestConfig(StoreConfig):
    chunker: str = param("recursive", help="fixed: token windows with overlap; recursive: "
                         "headings, paragraphs, code blocks; semantic: embedding breakpoints",
                         choices=STRATEGIES)
    chunk_tokens: int = param(200, help="most encoder tokens per chunk (MiniLM reads 256)")
    overlap: int = param(32, help="tokens shared by neighbouring fixed-size chunks")
    corpus: list[str] = param(["topics"], help="kinds of built-in Python docs ingested when no "
                              "PATH is given", choices=KINDS)
    limit: int | None = param(None, help="at most this many built-in documents")
    only: list[str] = param([], help="only built-in documents whose id matches one of these globs "
                            "(e.g. 'topics/with' 'topics/try')")
    context_header: bool = param(True, help="index each chunk with its title and heading path "
                                 "prepended (a cheap form of contextual retrieval)")
    prune: bool = param(False, help="remove documents from the store that this run did not see")
    batch_size: int = param(32, help="chunks per encoder batch")

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise UserError(f"--chunk-tokens must be >= 16 (got {self.chunk_tokens})")
        if not 0 <= self.overlap < self.chunk_tokens:
            raise UserError(f"--overlap must be in [0, chunk-tokens) (got {self.overlap})")


@dataclass
class SearchConfig(StoreConfig):
    k: int = param(5, help="hits to return")
    mode: str = param("hybrid", help="bm25, dense, or hybrid (reciprocal rank fusion of both)",
                      choices=MODES)
    candidates: int = param(50, help="hits each retriever passes to fusion / MMR / reranking")
    exact: bool = param(False, help="exact dense search instead of the HNSW index")
    rerank: str = param("none", help="none; llm (the embedded SmolLM2 as a listwise reranker); or "
                        "a cross-encoder model id / folder")
    rerank_top: int = param(10, help="how many fused hits the reranker reorders")
    mmr: float | None = param(None, help="MMR trade-off lambda in [0, 1] (1 = relevance only); "
                              "unset = no diversity step")
    where: list[str] = param([], help="metadata filters KEY=GLOB on source, title, kind, heading "
                             "(e.g. kind=markdown 'source=docs/*'); it takes several values, so "
                             "give the question before it or end the list with --")

    def __post_init__(self) -> None:
        if self.k < 1 or self.candidates < 1:
            raise UserError(f"--k and --candidates must be >= 1 (got {self.k}, {self.candidates})")
        if self.mmr is not None and not 0.0 <= self.mmr <= 1.0:
            raise UserError(f"--mmr must be in [0, 1] (got {self.mmr})")


@dataclass
class AskConfig(SearchConfig):
    model: str = param(EMBEDDED_LLM, help="answering LLM: smollm2-135m-instruct, tiny-llama, a "
                       "folder or a Hugging Face id")
    max_new_tokens: int = param(64, help="most tokens in the answer")
    context_chunks: int = param(3, help="retrieved chunks shown to the LLM (numbered [1]..)")
    min_relevance: float = param(0.3, help="if the best chunk's cosine similarity to the question "
                                 "is below this, answer 'I don't know' without calling the LLM")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_new_tokens < 1 or self.context_chunks < 1:
            raise UserError("--max-new-tokens and --context-chunks must be >= 1")


@dataclass
class EvalConfig(StoreConfig):
    questions: int = param(60, help="questions sampled from the built-in question set")
    question_file: str | None = param(None, help="a JSON question set (from `rag-engine "
                                      "questions`) instead of the built-in one")
    seed: int = param(0, help="seed of the question sample")
    modes: list[str] = param(["bm25", "dense", "hybrid"],
                             help="retrieval setups compared (hybrid+rerank needs --rerank)",
                             choices=(*MODES, "hybrid+rerank"))
    rerank: str = param("none", help="reranker of the hybrid+rerank setup: llm (the embedded "
                        "SmolLM2; measured never to reorder, see the README) or a cross-encoder "
                        "id / folder")
    answers: int = param(5, help="also answer this many questions and judge faithfulness and "
                         "relevance with the LLM (slow: ~10 s each on 2 cores)")
    model: str = param(EMBEDDED_LLM, help="LLM that answers and judges")

    def __post_init__(self) -> None:
        if "hybrid+rerank" in self.modes and self.rerank in ("", "none"):
            raise UserError("--modes hybrid+rerank needs a reranker: add --rerank llm or "
                            "--rerank <cross-encoder id or folder>")


@dataclass
class ServeConfig(AskConfig):
    host: str = param("127.0.0.1", help="address to listen on")
    port: int = param(8000, help="port (0 = any free port)")
    ingest_root: str | None = param(None, help="enable POST /ingest for files and folders inside "
                                    "this directory only (symlinks resolved); unset = /ingest off")
    max_k: int = param(20, help="largest k (and rerank_top) a client may ask for; larger "
                       "values are clamped")
    max_candidates: int = param(200, help="largest candidates a client may ask for")
    max_tokens_cap: int = param(256, help="largest max_new_tokens a client may ask for")
    max_body_kb: int = param(64, help="largest request body in KiB (413 beyond)")
    timeout: float = param(30.0, help="seconds a client may stay silent mid-request")


@dataclass
class DemoConfig:
    store: str | None = param(None, help="store directory (default: a temporary one)")
    model: str = param(EMBEDDED_LLM, help="answering LLM")
    encoder: str = param(EMBEDDED_ENCODER, help="sentence encoder")
    max_new_tokens: int = param(64, help="most tokens per answer")
    device: str = param("auto", help="auto, cpu, cuda or mps")
