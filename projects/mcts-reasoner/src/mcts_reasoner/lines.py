"""Reading `check` and `solve` input lines: every malformed line is a one-line error naming it.

A line that is not a JSON object, lacks a field or has the wrong type of field is the user's
mistake (`UserError`, exit 2, nothing written). A well-formed numeric problem whose `answer` does
not parse is different: `check` scores it `invalid_gold`, as the contract says. Leaves out
streaming: files are read whole (problem sets are small).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_shared import UserError

from .checker import NUMERIC_TASKS, TASKS
from .solver import MAX_NUMBERS


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; pass an existing JSONL file")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: not valid JSON ({exc.msg}); "
                            "write one JSON object per line") from exc
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{number}: expected a JSON object per line")
        out.append((number, obj))
    if not out:
        raise UserError(f"{path}: no lines; write one JSON object per line")
    return out


def _field(where: str, obj: dict[str, Any], name: str, kind: type | tuple, what: str) -> Any:
    if name not in obj:
        raise UserError(f"{where}: missing field '{name}' ({what})")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UserError(f"{where}: field '{name}' must be {what} (got {json.dumps(value)[:40]})")
    return value


def validate_problem(where: str, task: str, problem: dict[str, Any]) -> None:
    """Raise a UserError naming `where` and the field if `problem` cannot be posed at all."""
    if task in NUMERIC_TASKS:
        _field(where, problem, "question", str, "a string")
        _field(where, problem, "answer", str, "a string")
    else:
        numbers = _field(where, problem, "numbers", list, "a list of integers")
        if not numbers or len(numbers) > MAX_NUMBERS or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise UserError(f"{where}: field 'numbers' must be 1 to {MAX_NUMBERS} integers")
        _field(where, problem, "target", int, "an integer")


def check_lines(path: Path) -> list[tuple[str, Any, str]]:
    """(task, problem, completion) per line of a `check --input` file."""
    out = []
    for number, obj in read_jsonl(path):
        where = f"{path}:{number}"
        task = _field(where, obj, "task", str, "one of " + ", ".join(TASKS))
        if task not in TASKS:
            raise UserError(f"{where}: unknown task '{task}'; use one of " + ", ".join(TASKS))
        if "problem" not in obj:
            raise UserError(f"{where}: missing field 'problem'")
        completion = _field(where, obj, "completion", str, "a string")
        out.append((task, obj["problem"], completion))
    return out


def problem_lines(path: Path, task: str) -> list[dict[str, Any]]:
    """The problems of a `solve --problems` file, each validated for `task` and carrying an id."""
    out = []
    for number, obj in read_jsonl(path):
        where = f"{path}:{number}"
        if "id" not in obj:
            raise UserError(f"{where}: missing field 'id'")
        validate_problem(where, task, obj)
        out.append(obj)
    return out
