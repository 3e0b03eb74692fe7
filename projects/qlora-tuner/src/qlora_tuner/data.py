"""Instruction data: three file formats -> chat messages -> ids with an assistant-only loss mask.

Formats (JSONL, one example per line, detected per line):
- chat:     {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}, ...]}
- Alpaca:   {"instruction": ..., "input": optional, "output": ..., "system": optional}
- ShareGPT: {"conversations": [{"from": "human"|"gpt"|"system", "value": ...}, ...]}

Every example is rendered with the model's own chat template. The loss mask is found from the
template itself: for each assistant turn, render the conversation up to that turn with the
generation prompt (where the answer starts) and including it (where it ends); tokens whose
characters fall in [start, end) get labels, everything else is -100. So the mask is right for any
template, without `{% generation %}` tags. Long examples are cut at `max_length` (an example left
with no assistant token is dropped). Leaves out multi-modal messages and tool calls.
Exercised by tests/test_data.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError

IGNORE_INDEX = -100
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system"}


def record_to_messages(record: Any, where: str) -> list[dict[str, str]]:
    """One parsed JSON line in any of the three formats -> a list of {role, content} messages."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str) for m in messages):
            raise UserError(f"{where}: 'messages' must be a list of {{role, content}} strings")
        out = [{"role": m["role"], "content": m["content"]} for m in messages]
    elif "conversations" in record:
        turns = record["conversations"]
        if not isinstance(turns, list) or not all(
                isinstance(t, dict) and t.get("from") in SHAREGPT_ROLES
                and isinstance(t.get("value"), str) for t in turns):
            raise UserError(f"{where}: 'conversations' must be a list of {{from, value}} with from "
                            f"in {sorted(SHAREGPT_ROLES)}")
        out = [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]} for t in turns]
    elif "instruction" in record or "output" in record:
        missing = [k for k in ("instruction", "output") if not isinstance(record.get(k), str)]
        if missing:
            raise UserError(f"{where}: Alpaca record lacks the string field(s) {missing}")
        prompt = record["instruction"]
        if record.get("input"):
            prompt += "\n\n" + str(record["input"])
        out = [{"role": "user", "content": prompt},
               {"role": "assistant", "content": record["output"]}]
        if record.get("system"):
            out.insert(0, {"role": "system", "content": str(record["system"])})
    else:
        raise UserError(f"{where}: unknown format with keys {sorted(record)}; expected 'messages' "
                        "(chat), 'instruction'+'output' (Alpaca) or 'conversations' (ShareGPT)")
    if not any(m["role"] == "assistant" for m in out):
        raise UserError(f"{where}: no assistant message, so nothing to learn from")
    return out


def load_conversations(path: str | Path) -> list[list[dict[str, str]]]:
    """Read a JSONL file in any of the formats; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file {path} not found; pass --data FILE.jsonl "
                        "(or run `qlora-tuner make-task` to write the embedded task)")
    conversations = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            conversations.append(record_to_messages(record, f"{path}:{number}"))
    if not conversations:
        raise UserError(f"{path} holds no examples")
    return conversations


def assistant_spans(tokenizer: Any,
                    messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """(rendered text, [(start, end) character span of each assistant answer]).

    The span starts after the template's generation prompt and ends after the template's
    end-of-turn marker (<|im_end|> for SmolLM2), trailing whitespace excluded: the model must learn
    to stop.
    """
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False,
                                               add_generation_prompt=True) if i else ""
        upto = tokenizer.apply_chat_template(messages[:i + 1], tokenize=False)
        if not (text.startswith(before) and text.startswith(upto)):
            raise UserError("the chat template does not render conversations as growing prefixes; "
                            "assistant-only masking needs one that does")
        spans.append((len(before), len(upto.rstrip())))
    return text, spans


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX outside the assistant answers


def encode_conversation(tokenizer: Any, messages: list[dict[str, str]],
                        max_length: int | None = None) -> Encoded:
    """Token ids and labels (a copy of the ids on assistant tokens, -100 elsewhere)."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [tok if any(s <= start < e for s, e in spans) else IGNORE_INDEX
              for tok, (start, _end) in zip(ids, offsets, strict=True)]
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return Encoded(ids, labels)


def encode_all(tokenizer: Any, conversations: list[list[dict[str, str]]],
               max_length: int) -> tuple[list[Encoded], int]:
    """Encode every conversation; returns (kept, number dropped for having no label left)."""
    kept = [encode_conversation(tokenizer, c, max_length) for c in conversations]
    usable = [e for e in kept if any(label != IGNORE_INDEX for label in e.labels[1:])]
    return usable, len(kept) - len(usable)


def split_eval(items: list[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """Deterministic held-out split: (train, eval); at least one eval item when fraction > 0."""
    if fraction <= 0:
        return list(items), []
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(items) * fraction))
    if n_eval >= len(items):
        raise UserError(f"--eval-fraction {fraction} leaves no training data for {len(items)} "
                        "examples; lower it")
    held = set(order[:n_eval])
    return ([x for i, x in enumerate(items) if i not in held],
            [x for i, x in enumerate(items) if i in held])


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int,
                  group_by_length: bool = True) -> list[list[int]]:
    """The batches (lists of example indices) of one epoch, a pure function of (seed, epoch).

    Length grouping (HF's `group_by_length` idea): shuffle, cut into mega-batches of 16 batches,
    sort each by length so a batch holds similar lengths (little padding), then shuffle the batches.
    Example: lengths [5, 50, 6, 49], batch 2, grouped -> batches {[1, 3], [2, 0]} in some order.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        mega = batch_size * 16
        order = [i for start in range(0, len(order), mega)
                 for i in sorted(order[start:start + mega], key=lambda j: -lengths[j])]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def collate(examples: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest: input_ids (B, T), attention_mask (B, T), labels (B, T)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(examples), width), dtype=torch.long)  # (B, T)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def prompt_and_answer(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    """Split a conversation for exact-match evaluation: (messages before the last assistant turn,
    that turn's content)."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return messages[:last], messages[last]["content"]
