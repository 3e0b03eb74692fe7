"""The per-document stages after dedup: clean-up, quality filters, PII redaction, toxicity.

`FilterStage(config)(texts)` -> one `Outcome` per text, in order: either kept (with its final,
redacted text) or removed with its stage and reason. The instance is a picklable callable with a
lazily built scorer, so the same object runs in process, in a worker pool, or as a Ray Data
`map_batches` class. Leaves out language identification (FineWeb's first filter): the built-in
corpus is English. Exercised by `minhash-dedup demo`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .config import PipelineConfig
from .normalize import clean_text
from .pii import redact
from .quality import quality_verdict
from .toxicity import describe, make_scorer


@dataclass
class Outcome:
    kept: bool
    text: str
    stage: str = ""
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)
    toxicity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FilterStage:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self._scorer: Any = None

    @property
    def stateful(self) -> bool:
        """True when the stage holds a model worth keeping alive between batches."""
        return self.config.on("toxicity") and self.config.toxicity_scorer != "wordlist"

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            self._scorer = make_scorer(self.config)
        return self._scorer

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "_scorer": None}  # models are rebuilt per process

    def __call__(self, texts: list[str]) -> list[Outcome]:
        c = self.config
        outcomes = []
        for text in texts:
            out = Outcome(kept=True, text=clean_text(text) if c.on("normalize") else text)
            if c.on("quality"):
                reason, out.metrics = quality_verdict(out.text, c)
                if reason is not None:
                    out.kept, out.stage, out.reason = False, "quality", reason
            if out.kept and c.on("pii"):
                out.text, out.pii = redact(out.text, c.pii_kinds)
            outcomes.append(out)
        if c.on("toxicity"):
            alive = [o for o in outcomes if o.kept]
            for out, score in zip(alive, self.scorer.score([o.text for o in alive]), strict=True):
                out.toxicity = float(score)
                if score >= c.toxicity_threshold:
                    out.kept, out.stage = False, "toxicity"
                    out.reason = describe(self.scorer, out.text, score)
        return outcomes
