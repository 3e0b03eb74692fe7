"""`predict`: a trained run answers a file of task inputs, one per line, in the same format.

Every line is parsed before any decoding, so a bad line fails the whole command with one error
naming the line, and the output file is written atomically or not at all.
"""

from __future__ import annotations

import torch
from llm_shared import UserError, atomic_write

from .config import PredictConfig
from .decode import beam_search, greedy
from .model import Transformer
from .tasks import Task, decode, encode, pad_rows
from .train import load_run

BATCH = 256


def predict_lines(model: Transformer, task: Task, lines: list[str], beam: int = 1,
                  length_penalty: float = 0.6) -> list[str]:
    sources = []
    for number, line in enumerate(lines, 1):
        try:
            sources.append(task.parse(line, model.config.max_len))
        except UserError as exc:
            raise UserError(f"line {number}: {exc}") from exc
    # an answer is at most one token longer than its input (addition's carry); leave room
    outputs = []
    for i in range(0, len(sources), BATCH):
        chunk = sources[i:i + BATCH]
        max_new = min(max(len(s) for s in chunk) + 2, model.config.max_len - 1)
        if beam == 1:
            outputs += greedy(model, pad_rows([encode(s) for s in chunk]), max_new)
        else:
            outputs += [beam_search(model, torch.tensor([encode(s)]), beam, max_new,
                                    length_penalty) for s in chunk]
    return [task.render(decode(ids)) for ids in outputs]


def predict_file(config: PredictConfig) -> dict[str, object]:
    model, task = load_run(config.model)
    try:
        lines = [line for line in config.input.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --input {config.input} ({exc.__class__.__name__}); "
                        "pass a UTF-8 text file, one input per line") from exc
    if not lines:
        raise UserError(f"--input {config.input} has no input lines")
    answers = predict_lines(model, task, lines, config.beam, config.length_penalty)
    with atomic_write(config.output) as handle:
        handle.write("\n".join(answers) + "\n")
    return {"task": task.name, "lines": len(answers), "beam": config.beam}
