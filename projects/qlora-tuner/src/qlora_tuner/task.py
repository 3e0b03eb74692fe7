"""The embedded task: "name cards", an instruction set with one verifiable answer per prompt.

Each example gives a person's first name, last name and age in one of several phrasings and asks
for the fixed format `Last, First (age)`; e.g. "first name: Ada; last name: Lovelace; age: 36" ->
"Lovelace, Ada (36)". SmolLM2-135M-Instruct can read the fields but does not keep the format (it
answers "Ada Lovelace, 36 years old." and similar), so exact match starts near zero; the skill is
a fixed reordering a LoRA adapter learns in a few dozen steps. Names are drawn from disjoint pools
for train and held-out examples, so the held-out score measures the format, not memorised names.
Leaves out any task that needs knowledge the base model lacks. Exercised by `qlora-tuner make-task`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from llm_shared import atomic_write

SYSTEM = "Answer with the requested format only."
FIRST_NAMES = [
    "Ada", "Alan", "Amara", "Bruno", "Carla", "Chen", "Dana", "Diego", "Elena", "Emil", "Farah",
    "Felix", "Greta", "Goran", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Julia", "Kofi", "Lara",
    "Leon", "Maya", "Marek", "Nadia", "Nils", "Olga", "Omar", "Paula", "Pavel", "Quinn", "Rosa",
    "Rafael", "Sara", "Sven", "Tara", "Tomas", "Uma", "Viktor", "Wanda", "Yusuf", "Zoe", "Aiko",
    "Bela", "Cyrus", "Dmitri", "Esther",
]
LAST_NAMES = [
    "Smith", "Novak", "Garcia", "Okafor", "Larsen", "Tanaka", "Weber", "Rossi", "Dubois",
    "Kowalski",
    "Nguyen", "Silva", "Jensen", "Moreau", "Fischer", "Costa", "Ivanova", "Haddad", "Petrov",
    "Brennan", "Lindqvist", "Mendes", "Sato", "Horvat", "Keller", "Romero", "Walsh", "Yilmaz",
    "Bauer", "Castro", "Eriksen", "Farouk", "Gallo", "Hoffmann", "Kuznetsov", "Lopez", "Marino",
    "Nakamura", "Olsen", "Park", "Quiroga", "Richter", "Schmidt", "Torres", "Vargas", "Wagner",
]
PHRASINGS = [
    "Write this person as 'Last, First (age)'. first name: {first}; last name: {last}; age: {age}",
    "Format the record as 'Last, First (age)': {first} {last}, {age} years old.",
    "Name card in the form 'Last, First (age)' for: {first} {last}, aged {age}.",
    "Give 'Last, First (age)' for this entry -> name: {first} {last} | age: {age}",
]


def name_card_answer(first: str, last: str, age: int) -> str:
    """("Ada", "Lovelace", 36) -> "Lovelace, Ada (36)"."""
    return f"{last}, {first} ({age})"


def _example(rng: random.Random, firsts: list[str], lasts: list[str]) -> dict:
    first, last, age = rng.choice(firsts), rng.choice(lasts), rng.randint(18, 95)
    prompt = rng.choice(PHRASINGS).format(first=first, last=last, age=age)
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": prompt},
                         {"role": "assistant", "content": name_card_answer(first, last, age)}]}


def make_task(train_size: int, eval_size: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out) chat records; held-out names come from pools the train split never uses."""
    rng = random.Random(seed)
    firsts, lasts = FIRST_NAMES[:], LAST_NAMES[:]
    rng.shuffle(firsts)
    rng.shuffle(lasts)
    cut_first, cut_last = len(firsts) * 3 // 4, len(lasts) * 3 // 4
    train = [_example(rng, firsts[:cut_first], lasts[:cut_last]) for _ in range(train_size)]
    held = [_example(rng, firsts[cut_first:], lasts[cut_last:]) for _ in range(eval_size)]
    return train, held


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    with atomic_write(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
