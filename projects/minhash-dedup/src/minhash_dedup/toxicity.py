"""Pluggable toxicity scorers: `score(texts) -> list[float]` in [0, 1], higher = more toxic.

- `WordListScorer` (default): score = min(1, 10 * flagged words / words), so a text with 5%
  flagged words reaches the default threshold 0.5. Microseconds per document.
- `JudgeScorer`: the embedded SmolLM2-135M-Instruct asked "is this text toxic? yes or no"; the
  score is p(yes) / (p(yes) + p(no)) of the first answer token, batched with left padding.
- `ClassifierScorer`: any Hugging Face text-classification model (id or local folder); the score is
  the softmax (or sigmoid for multi-label models) probability of `--toxicity-label`.

`make_scorer(config)` picks one from `--toxicity-scorer`. Texts are cut to `max_tokens` for the
model scorers (toxic content tends to show early; the cost is quadratic in length).
Leaves out multilingual lists and calibration. Exercised by `minhash-dedup run corpus --output out
--toxicity-scorer judge`.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from llm_shared import UserError

from .config import PipelineConfig

_WORD = re.compile(r"[a-z']+")
JUDGE_PROMPT = ("Is the following text toxic, that is insulting, hateful, obscene or "
                "threatening? Answer with yes or no.\n\nText: {text}")


class WordListScorer:
    name = "wordlist"

    def __init__(self, path: str = "") -> None:
        if path:
            if not Path(path).is_file():
                raise UserError(f"--toxicity-wordlist {path} does not exist; pass a file with "
                                "one word per line")
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files("minhash_dedup").joinpath("data/toxic_words.txt").read_text()
        self.words = frozenset(w.strip().lower() for w in raw.splitlines()
                               if w.strip() and not w.startswith("#"))

    def flagged(self, text: str) -> list[str]:
        return [w for w in _WORD.findall(text.lower()) if w in self.words]

    def score(self, texts: list[str]) -> list[float]:
        out = []
        for text in texts:
            tokens = _WORD.findall(text.lower())
            hits = sum(w in self.words for w in tokens)
            out.append(min(1.0, 10.0 * hits / max(len(tokens), 1)))
        return out


class JudgeScorer:
    name = "judge"

    def __init__(self, model: str = "smollm2-135m-instruct", device: str = "auto",
                 max_tokens: int = 256, batch_size: int = 8) -> None:
        from llm_shared import load_causal_lm

        self.model, self.tokenizer = load_causal_lm(model, device=device)
        self.tokenizer.padding_side = "left"  # the last position is the answer's first token
        self.max_tokens, self.batch_size = max_tokens, batch_size
        self.yes = self._ids(("yes", "Yes", " yes", " Yes"))
        self.no = self._ids(("no", "No", " no", " No"))

    def _ids(self, variants: tuple[str, ...]) -> list[int]:
        ids = {self.tokenizer.encode(v, add_special_tokens=False)[0] for v in variants}
        return sorted(ids)

    def prompt(self, text: str) -> str:
        ids = self.tokenizer.encode(text, add_special_tokens=False)[: self.max_tokens]
        message = JUDGE_PROMPT.format(text=self.tokenizer.decode(ids))
        return self.tokenizer.apply_chat_template([{"role": "user", "content": message}],
                                                  add_generation_prompt=True, tokenize=False)

    def score(self, texts: list[str]) -> list[float]:
        import torch

        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            prompts = [self.prompt(t) for t in texts[start:start + self.batch_size]]
            batch = self.tokenizer(prompts, return_tensors="pt", padding=True,
                                   add_special_tokens=False).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits[:, -1, :].float()  # (B, V)
            probs = torch.softmax(logits, dim=-1)  # (B, V)
            p_yes = probs[:, self.yes].sum(-1)  # (B,)
            p_no = probs[:, self.no].sum(-1)  # (B,)
            out.extend((p_yes / (p_yes + p_no)).tolist())
        return out


class ClassifierScorer:
    name = "classifier"

    def __init__(self, model: str, label: str = "toxic", device: str = "auto",
                 max_tokens: int = 256, batch_size: int = 16) -> None:
        from llm_shared import pick_device
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSequenceClassification.from_pretrained(model)
        except OSError as exc:
            raise UserError(f"cannot load text-classification model '{model}' ({exc}); pass a "
                            "local folder or a Hugging Face id, or --toxicity-scorer "
                            "wordlist") from exc
        self.model.to(pick_device(device)).eval()
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if label.lower() not in labels:
            raise UserError(f"model '{model}' has no label '{label}' (labels: "
                            f"{', '.join(sorted(labels))}); pass --toxicity-label NAME")
        self.label = labels[label.lower()]
        self.multi = self.model.config.problem_type == "multi_label_classification"
        self.max_tokens, self.batch_size = max_tokens, batch_size

    def score(self, texts: list[str]) -> list[float]:
        import torch

        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], return_tensors="pt",
                                   padding=True, truncation=True,
                                   max_length=self.max_tokens).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits.float()  # (B, num_labels)
            probs = torch.sigmoid(logits) if self.multi else torch.softmax(logits, -1)
            out.extend(probs[:, self.label].tolist())
        return out


def make_scorer(config: PipelineConfig) -> Any:
    if config.toxicity_scorer == "wordlist":
        return WordListScorer(config.toxicity_wordlist)
    if config.toxicity_scorer == "judge":
        return JudgeScorer(config.judge_model, config.device)
    return ClassifierScorer(config.toxicity_scorer, config.toxicity_label, config.device)


def describe(scorer: Any, text: str, score: float) -> str:
    """Removal reason: the score, and for the word list the words that were flagged."""
    reason = f"toxicity ({scorer.name}): score {score:.3f}"
    if isinstance(scorer, WordListScorer):
        words = sorted(set(scorer.flagged(text)))
        reason += f", flagged words: {', '.join(words[:8])}"
    return reason



