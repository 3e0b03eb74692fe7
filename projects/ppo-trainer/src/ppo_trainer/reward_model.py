"""A reward model trained in the project: decoder backbone + scalar head, Bradley-Terry loss.

score(prompt, response) = w . h_last + b, where h_last is the backbone's hidden state at the last
real token of the chat-formatted conversation. Training minimises -log sigmoid(s_chosen -
s_rejected) over preference pairs (losses.bradley_terry_loss). Only the top `trainable_layers`
decoder layers, the final norm and the head are trained: on 2 CPU cores that keeps `train-rm` to a
few minutes, and the frozen lower layers keep the pretrained features.

Default pairs come from the arithmetic task: chosen = `<answer>a+b</answer>`, rejected = a wrong
number in the tags, the right number without tags, or chatter. Users pass their own JSONL
(`{"prompt", "chosen", "rejected"}`). Leaves out margins, ensembles and reward normalisation.
Exercised by `ppo-trainer train-rm` and tests/test_reward_model.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import (
    UserError,
    atomic_dir,
    load_tokenizer,
    load_torch_state,
    model_path,
    pick_device,
    write_json,
)
from torch import nn

from .task import ArithmeticTask


@dataclass
class Pair:
    messages: tuple[dict[str, str], ...]
    chosen: str
    rejected: str


class RewardModel(nn.Module):
    def __init__(self, backbone: nn.Module, tokenizer: Any, max_tokens: int = 256) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.head = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.normal_(self.head.weight, std=1.0 / (backbone.config.hidden_size + 1) ** 0.5)
        nn.init.zeros_(self.head.bias)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def encode(self, messages: list, responses: list[str]) -> dict[str, torch.Tensor]:
        texts = [self.tokenizer.apply_chat_template(
            [*m, {"role": "assistant", "content": r}], tokenize=False)
            for m, r in zip(messages, responses, strict=True)]
        self.tokenizer.padding_side = "right"
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        if enc["input_ids"].size(1) > self.max_tokens:
            raise UserError(f"a prompt+response has {enc['input_ids'].size(1)} tokens, more than "
                            f"--max-tokens {self.max_tokens}; shorten it or raise the limit")
        return {k: v.to(self.device) for k, v in enc.items()}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               use_cache=False).last_hidden_state  # (B, L, C)
        last = attention_mask.sum(1) - 1  # (B,) right padding: last real token
        picked = hidden[torch.arange(hidden.size(0), device=hidden.device), last]  # (B, C)
        return self.head(picked.float()).squeeze(-1)  # (B,)

    def score(self, messages: list, responses: list[str], batch_size: int = 16) -> torch.Tensor:
        """Scores (B,) of responses to their prompts, no gradient."""
        out = []
        with torch.no_grad():
            for i in range(0, len(responses), batch_size):
                enc = self.encode(messages[i:i + batch_size], responses[i:i + batch_size])
                out.append(self(enc["input_ids"], enc["attention_mask"]).cpu())
        return torch.cat(out)

    def freeze_below(self, trainable_layers: int) -> None:
        """Train only the top `trainable_layers` decoder layers, the final norm and the head."""
        if trainable_layers <= 0:
            return
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        for module in [*self.backbone.layers[-trainable_layers:], self.backbone.norm]:
            for p in module.parameters():
                p.requires_grad_(True)

    def save(self, directory: Path) -> None:
        with atomic_dir(directory) as tmp:
            self.backbone.save_pretrained(tmp / "backbone")
            self.tokenizer.save_pretrained(tmp / "backbone")
            torch.save(self.head.state_dict(), tmp / "head.pt")
            write_json(tmp / "reward_model.json", {"max_tokens": self.max_tokens,
                                                   "kind": "bradley-terry"})

    @classmethod
    def load(cls, directory: Path, device: str | torch.device = "auto") -> RewardModel:
        from transformers import AutoModel

        directory = Path(directory)
        if not (directory / "head.pt").is_file():
            raise UserError(f"{directory} is not a reward model (no head.pt); create one with "
                            "`ppo-trainer train-rm --output DIR`")
        fix = "train it again with `ppo-trainer train-rm --output DIR`"
        try:
            meta = json.loads((directory / "reward_model.json").read_text(encoding="utf-8"))
            max_tokens = int(meta["max_tokens"])
            backbone = AutoModel.from_pretrained(directory / "backbone", dtype=torch.float32)
            tokenizer = load_tokenizer(str(directory / "backbone"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UserError(f"{directory} is not a complete reward model ({first}); {fix}") \
                from exc
        model = cls(backbone, tokenizer, max_tokens)
        try:
            model.head.load_state_dict(load_torch_state(directory / "head.pt"))
        except RuntimeError as exc:  # another hidden size than the backbone's
            raise UserError(f"{directory}/head.pt does not fit its backbone; {fix}") from exc
        return model.to(pick_device(device)).eval()

    @classmethod
    def from_pretrained_lm(cls, name: str, max_tokens: int, device: str = "auto") -> RewardModel:
        from transformers import AutoModel

        source = model_path(name)
        backbone = AutoModel.from_pretrained(source, dtype=torch.float32)
        tokenizer = load_tokenizer(str(source))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(backbone, tokenizer, max_tokens).to(pick_device(device))


def task_pairs(n: int, seed: int) -> list[Pair]:
    """Preference pairs from the arithmetic task: the right answer in tags beats three kinds of
    wrong (wrong number, missing tags, chatter), cycled so each kind is a third of the pairs."""
    rng = random.Random(seed)
    problems = ArithmeticTask(seed=seed + 1).batch(0, n)
    pairs = []
    for i, problem in enumerate(problems):
        answer = problem.answer
        wrong = answer + rng.choice([-3, -2, -1, 1, 2, 3, 10])
        rejected = (f"<answer>{wrong}</answer>", f"{answer}",
                    f"Sure! The sum is {answer}, I think.")[i % 3]
        pairs.append(Pair(problem.messages, f"<answer>{answer}</answer>", rejected))
    return pairs


def read_pairs(path: Path) -> list[Pair]:
    """JSONL lines {"prompt": str, "chosen": str, "rejected": str}; bad lines name their number."""
    if not path.is_file():
        raise UserError(f"pairs file {path} not found; pass a JSONL file of prompt/chosen/rejected")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append(Pair(({"role": "user", "content": str(row["prompt"])},),
                              str(row["chosen"]), str(row["rejected"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"{path}:{number} is not a JSON object with prompt, chosen and "
                            f"rejected ({exc})") from exc
    if len(pairs) < 4:
        raise UserError(f"{path} has {len(pairs)} pairs; need at least 4 (some are held out)")
    return pairs
