"""Per-request sampling settings (the OpenAI / vLLM knobs), validated once at the API boundary.

Plain Python, no torch: the scheduler and the server read it; `sampler.py` applies it to logits.
Leaves out beam search, `best_of`, guided decoding and logit bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_shared import UserError


@dataclass(slots=True)
class SamplingParams:
    """What one request asks of the sampler.

    temperature: 0 means greedy (argmax), the value HF `generate(do_sample=False)` matches.
    top_k: keep the k most likely tokens (0 or -1: all). top_p: smallest set with mass >= p.
    min_p: drop tokens whose probability is < min_p * p(most likely).
    repetition_penalty: HF/CTRL rule on prompt + output tokens (logit > 0: divide, else multiply).
    presence_penalty / frequency_penalty: OpenAI rule on output tokens (subtract p * [count > 0],
    f * count). stop: strings that end the text (not included in it). stop_token_ids: ids that end
    it (included in the ids, as EOS). max_tokens: new tokens at most. seed: per-request generator,
    so the same request gives the same sample whatever else is in the batch. logprobs: how many top
    logprobs to return per token (None: none; 0: only the chosen token's).
    n: samples per prompt, sharing the prompt's KV blocks (copy-on-write).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    max_tokens: int = 16
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    seed: int | None = None
    logprobs: int | None = None
    n: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        checks = [
            (self.temperature >= 0, f"temperature must be >= 0 (got {self.temperature})"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1] (got {self.top_p})"),
            (self.top_k >= -1, f"top_k must be -1, 0 or positive (got {self.top_k})"),
            (0 <= self.min_p <= 1, f"min_p must be in [0, 1] (got {self.min_p})"),
            (self.repetition_penalty > 0,
             f"repetition_penalty must be > 0 (got {self.repetition_penalty})"),
            (-2 <= self.presence_penalty <= 2,
             f"presence_penalty must be in [-2, 2] (got {self.presence_penalty})"),
            (-2 <= self.frequency_penalty <= 2,
             f"frequency_penalty must be in [-2, 2] (got {self.frequency_penalty})"),
            (self.max_tokens >= 1, f"max_tokens must be >= 1 (got {self.max_tokens})"),
            (1 <= self.n <= 16, f"n must be in [1, 16] (got {self.n})"),
            (self.logprobs is None or 0 <= self.logprobs <= 20,
             f"logprobs must be in [0, 20] (got {self.logprobs})"),
            (all(isinstance(s, str) and s for s in self.stop), "stop must be non-empty strings"),
            (len(self.stop) <= 4, f"at most 4 stop strings (got {len(self.stop)})"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def needs_penalties(self) -> bool:
        return (self.repetition_penalty != 1.0 or self.presence_penalty != 0.0
                or self.frequency_penalty != 0.0)
