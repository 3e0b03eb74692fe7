"""The generation loop: prefill once, then one token per forward with our own KV cache.

`Engine` wraps a loaded Hugging Face causal LM and its tokenizer. The loop is plain: a
`DynamicCache` that we own and pass as `cache`, the last position's logits only
(`logits_to_keep=1`), the sampler chain on those logits, stop on EOS / a stop string /
`max_tokens`. `use_cache=False` re-runs the whole sequence every step: the textbook baseline the
tests compare against (same logits to 1e-5, same tokens).

Streaming is UTF-8 safe: a byte-level BPE splits one character (an emoji, a CJK character) over
several tokens, so `StreamDecoder` only emits text once the bytes decode without a replacement
character. Stop strings are held back while the text could still be their start, so a stop
string never reaches the screen. Leaves out batching, beams and speculative decoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from llm_shared import UserError, load_causal_lm
from transformers import DynamicCache

from .samplers import SamplerChain


class StreamDecoder:
    """Incremental detokenisation: feed ids, get only complete new text.

    Decodes a short window (the last emitted boundary onward) rather than the whole text, so
    a step costs O(1) in the answer length; a piece ending in U+FFFD waits for its bytes.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # window start: text before it is final
        self.read = 0  # ids up to here have been emitted

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix:self.read], skip_special_tokens=True)
        now = decode(self.ids[self.prefix:], skip_special_tokens=True)
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return now[len(before):]
        return ""


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str  # "eos", "stop" or "length"
    prompt_tokens: int
    seconds: float = 0.0
    step_logits: list[torch.Tensor] = field(default_factory=list)  # only with keep_logits

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "token_ids": self.token_ids,
                "finish_reason": self.finish_reason}


class _StopFilter:
    """Holds back text that might be the start of a stop string; reports a full match."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.text = ""  # everything decoded so far
        self.emitted = 0

    def feed(self, piece: str) -> tuple[str, bool]:
        self.text += piece
        for stop in self.stops:
            at = self.text.find(stop)
            if at >= 0:
                out = self.text[self.emitted:at] if at > self.emitted else ""
                self.text = self.text[:at]
                self.emitted = len(self.text)
                return out, True
        hold = 0
        for stop in self.stops:  # longest suffix of the text that is a prefix of a stop
            for n in range(min(len(stop) - 1, len(self.text)), 0, -1):
                if self.text.endswith(stop[:n]):
                    hold = max(hold, n)
                    break
        safe = len(self.text) - hold
        out = self.text[self.emitted:safe] if safe > self.emitted else ""
        self.emitted = max(self.emitted, safe)
        return out, False

    def flush(self) -> str:
        out = self.text[self.emitted:]
        self.emitted = len(self.text)
        return out


class Engine:
    """A model + tokenizer with our decoding loop. `Engine.load("tiny-llama")`."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {int(i) for i in eos + [tokenizer.eos_token_id] if i is not None}
        self.context_limit = int(getattr(model.config, "max_position_embeddings", 2048))

    @classmethod
    def load(cls, name: str, device: str = "cpu") -> Engine:
        model, tokenizer = load_causal_lm(name, device=device)
        return cls(model, tokenizer)

    def encode(self, prompt: str, *, chat: bool = False, system: str = "",
               history: list[dict[str, str]] | None = None) -> list[int]:
        """Prompt ids: raw text (SmolLM2 adds no BOS), or the chat template around a user turn."""
        if not chat:
            return self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        messages = ([{"role": "system", "content": system}] if system else []) + list(history or [])
        messages.append({"role": "user", "content": prompt})
        return self.chat_ids(messages)

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        if self.tokenizer.chat_template is None:
            raise UserError("this model's tokenizer has no chat template; drop --chat")
        out = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                 tokenize=True, return_dict=True)
        return list(out["input_ids"])

    def check_length(self, n_prompt: int) -> None:
        if n_prompt == 0:
            raise UserError("the prompt is empty; pass --prompt TEXT")
        if n_prompt >= self.context_limit:
            raise UserError(f"the prompt is {n_prompt} tokens but the model's context is "
                            f"{self.context_limit}; shorten it")

    @torch.inference_mode()
    def forward(self, ids: list[int], cache: DynamicCache | None) -> torch.Tensor:
        """Logits (V,) of the position after `ids` (new ids only when `cache` holds the rest)."""
        x = torch.tensor([ids], device=self.device)  # (1, T)
        out = self.model(input_ids=x, cache=cache, use_cache=cache is not None,
                         logits_to_keep=1)
        return out.logits[0, -1].float()  # (V,)

    def new_cache(self) -> DynamicCache:
        return DynamicCache(config=self.model.config)

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], chain: SamplerChain, *, max_tokens: int = 256,
                 stop: list[str] | None = None, on_text: Callable[[str], None] | None = None,
                 use_cache: bool = True, keep_logits: bool = False,
                 should_stop: Callable[[], bool] | None = None) -> Generation:
        """Decode up to `max_tokens` ids after `prompt_ids`; `on_text` receives each new piece."""
        start = time.perf_counter()
        self.check_length(len(prompt_ids))
        max_tokens = min(max_tokens, self.context_limit - len(prompt_ids))
        generator = torch.Generator(device="cpu").manual_seed(chain.config.seed)
        decoder, stops = StreamDecoder(self.tokenizer), _StopFilter(stop or [])
        context = torch.tensor(prompt_ids, device=self.device)  # (T,) grows by one per step
        cache = self.new_cache() if use_cache else None
        logits = self.forward(prompt_ids, cache)
        new_ids: list[int] = []
        kept: list[torch.Tensor] = []
        reason = "length"
        while len(new_ids) < max_tokens:
            if keep_logits:
                kept.append(logits.clone())
            token = chain.next_token(logits.cpu(), context.cpu(), generator)
            if token in self.eos_ids:
                reason = "eos"
                break
            new_ids.append(token)
            context = torch.cat([context, context.new_tensor([token])])
            piece, hit = stops.feed(decoder.push(token))
            if piece and on_text:
                on_text(piece)
            if hit:
                reason = "stop"
                break
            if should_stop is not None and should_stop():
                reason = "interrupted"
                break
            if len(new_ids) < max_tokens:
                logits = self.forward([token] if use_cache else context.tolist(), cache)
        tail = stops.flush() if reason != "stop" else ""
        if tail and on_text:
            on_text(tail)
        return Generation(text=stops.text, token_ids=new_ids, finish_reason=reason,
                          prompt_tokens=len(prompt_ids), seconds=time.perf_counter() - start,
                          step_logits=kept)
