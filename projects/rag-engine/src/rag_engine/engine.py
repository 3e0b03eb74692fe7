"""`Engine`: one open store with its encoder, retriever, and (lazily) LLM and reranker — what the
CLI commands, the HTTP server and the demo share.

    engine = Engine.open("rag-store")                     # or a postgresql:// URL
    engine.search("with statement", k=5)
    engine.ask("What does the global statement do?", on_text=print)

Leaves out caching across stores: one Engine per store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from llm_shared import EMBEDDED_LLM

from .answer import Answer, answer
from .config import AskConfig, IngestConfig, SearchConfig
from .ingest import IngestReport, get_encoder, ingest
from .llm import get_llm
from .rerank import make_reranker
from .retrieve import Retriever
from .store import Store, open_store
from .types import Hit


class Engine:
    def __init__(self, store: Store, encoder_name: str, device: str = "auto",
                 model: str = EMBEDDED_LLM) -> None:
        self.store, self.encoder_name, self.device, self.model = store, encoder_name, device, model
        self.encoder = get_encoder(encoder_name, device)
        store.check_encoder(encoder_name, self.encoder.dim)
        self.retriever = Retriever(store, self.encoder)
        self._rerankers: dict[str, Any] = {}
        self.lock = threading.Lock()  # the server handles requests in threads

    @classmethod
    def open(cls, spec: str, encoder: str = "all-minilm-l6-v2", device: str = "auto",
             model: str = EMBEDDED_LLM, *, create: bool = False) -> Engine:
        return cls(open_store(spec, create=create), encoder, device, model)

    def reranker(self, spec: str) -> Any:
        if spec not in self._rerankers:
            self._rerankers[spec] = make_reranker(spec, self.model, self.device)
        return self._rerankers[spec]

    def search(self, query: str, config: SearchConfig | None = None, **overrides: Any) -> list[Hit]:
        config = config or SearchConfig(store=self.store.location, encoder=self.encoder_name,
                                        **overrides)
        with self.lock:
            return self.retriever.search(
                query, k=config.k, mode=config.mode, candidates=config.candidates,
                exact=config.exact, where=config.where, mmr_lambda=config.mmr,
                reranker=self.reranker(config.rerank), rerank_top=config.rerank_top)

    def ask(self, question: str, config: AskConfig | None = None, *,
            on_text: Callable[[str], None] | None = None, **overrides: Any) -> Answer:
        config = config or AskConfig(store=self.store.location, encoder=self.encoder_name,
                                     model=self.model, **overrides)
        with self.lock:
            llm = get_llm(config.model, self.device)
            return answer(question, self.retriever, llm, config,
                          reranker=self.reranker(config.rerank), on_text=on_text)

    def ingest(self, paths: Sequence[str | Path], *, root: str | Path | None = None,
               **overrides: Any) -> IngestReport:
        names = {f.name for f in fields(IngestConfig)}
        config = IngestConfig(store=self.store.location, encoder=self.encoder_name,
                              **{k: v for k, v in overrides.items() if k in names})
        with self.lock:
            report = ingest(paths, config, encoder=self.encoder, store=self.store, root=root)
            self.retriever.refresh()
        return report

    def close(self) -> None:
        self.store.close()
