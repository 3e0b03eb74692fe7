"""Rerankers: reorder the top fused hits by a model that reads query and passage together.

- `CrossEncoderReranker(model_id)`: a sequence-classification cross-encoder (e.g.
  cross-encoder/ms-marco-MiniLM-L-6-v2 or a local folder); score = its relevance logit.
- `ListwiseReranker(llm)`: RankGPT-style listwise reranking with the embedded SmolLM2: the passages
  are shown numbered, the model is asked for the order "[2] > [1] > ...", the ids are parsed;
  passages it does not name keep their fused order after the named ones. A reply with no usable
  identifier counts as a parse failure (`stats["parse_failures"]`) and leaves the order unchanged.
Leaves out sliding windows over long candidate lists (one window of `rerank_top`).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from llm_shared import UserError

from .llm import LLM, chat, truncate_tokens
from .types import Hit

_ID = re.compile(r"\[(\d+)\]")
# NOTE: 64 tokens per passage keeps a 10-passage prompt near 900 tokens, about 2-4 s of prefill
# for the 135M model on 2 cores; longer passages did not change the order on the questions we tried.
PASSAGE_TOKENS = 64


def parse_ranking(reply: str, n: int) -> list[int]:
    """'[2] > [1] > [2] > [9]' with n=3 -> [1, 0] (0-based, duplicates and unknown ids dropped)."""
    order: list[int] = []
    for match in _ID.finditer(reply):
        i = int(match.group(1)) - 1
        if 0 <= i < n and i not in order:
            order.append(i)
    return order


class ListwiseReranker:
    def __init__(self, llm: LLM, max_new_tokens: int = 48) -> None:
        self.llm, self.max_new_tokens = llm, max_new_tokens
        self.stats = {"calls": 0, "parse_failures": 0, "reordered": 0}

    def prompt(self, query: str, hits: list[Hit]) -> list[dict[str, str]]:
        passages = "\n".join(
            f"[{n}] {truncate_tokens(self.llm, ' '.join(h.chunk.text.split()), PASSAGE_TOKENS)}"
            for n, h in enumerate(hits, 1))
        return [
            {"role": "system", "content": "You rank passages by how well they answer a question."},
            {"role": "user", "content": f"Question: {query}\n\nPassages:\n{passages}\n\n"
             f"Rank the {len(hits)} passages from most to least relevant to the question. "
             "Reply only with identifiers, like [2] > [1] > [3]."},
        ]

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        self.stats["calls"] += 1
        reply = chat(self.llm, self.prompt(query, hits), self.max_new_tokens)
        order = parse_ranking(reply, len(hits))
        if not order:
            self.stats["parse_failures"] += 1
            return hits
        order += [i for i in range(len(hits)) if i not in order]
        self.stats["reordered"] += int(order != list(range(len(hits))))
        out = []
        for rank, i in enumerate(order, 1):
            hit = hits[i]
            hit.scores["rerank"] = 1.0 / rank
            out.append(Hit(hit.chunk, 1.0 / rank, hit.scores))
        return out


class CrossEncoderReranker:
    def __init__(self, name_or_path: str, device: str = "cpu") -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.model = AutoModelForSequenceClassification.from_pretrained(name_or_path)
        except OSError as exc:
            raise UserError(f"cannot load cross-encoder '{name_or_path}' ({str(exc)[:120]}); "
                            "pass a local folder, a reachable model id, or --rerank llm") from exc
        self.model.to(device).eval()
        self.stats = {"calls": 0, "parse_failures": 0, "reordered": 0}

    @torch.inference_mode()
    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        self.stats["calls"] += 1
        batch = self.tokenizer([query] * len(hits), [h.chunk.text for h in hits], padding=True,
                               truncation=True, max_length=512,
                               return_tensors="pt").to(self.model.device)
        logits = self.model(**batch).logits  # (N, labels)
        scores = logits[:, -1] if logits.shape[1] > 1 else logits[:, 0]  # (N,)
        order = sorted(range(len(hits)), key=lambda i: (-float(scores[i]), i))
        self.stats["reordered"] += int(order != list(range(len(hits))))
        out = []
        for i in order:
            hits[i].scores["rerank"] = float(scores[i])
            out.append(Hit(hits[i].chunk, float(scores[i]), hits[i].scores))
        return out


def make_reranker(spec: str, model: str, device: str = "auto") -> Any:
    """None for 'none', the listwise LLM reranker for 'llm', else a cross-encoder id/folder."""
    if spec in ("", "none"):
        return None
    if spec == "llm":
        from .llm import get_llm

        return ListwiseReranker(get_llm(model, device))
    return CrossEncoderReranker(spec)
