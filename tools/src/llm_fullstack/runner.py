"""Run a command in a project folder, echo its output live, and keep it for parsing.

`run_streaming` is what `test` and `tour` use: the person watching sees every line as it comes,
and the caller gets the full text back (pytest's summary, the demo's last JSON line).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SUMMARY_WORD = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


@dataclass
class RunResult:
    returncode: int
    output: str
    seconds: float


def run_streaming(command: list[str], cwd: Path, *, timeout: float | None = None,
                  echo: bool = True, env: dict[str, str] | None = None) -> RunResult:
    start = time.perf_counter()
    lines: list[str] = []
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, text=True, errors="replace",
                               bufsize=1)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.append(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
            if timeout is not None and time.perf_counter() - start > timeout:
                process.kill()
                lines.append(f"[killed after {timeout:.0f} s]\n")
                break
        returncode = process.wait()
    except KeyboardInterrupt:
        process.kill()
        raise
    return RunResult(returncode, "".join(lines), time.perf_counter() - start)


def pytest_counts(output: str) -> dict[str, int]:
    """Counts from pytest's closing line: '3 passed, 1 skipped in 2.1s' -> {'passed': 3, ...}."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for line in reversed(output.splitlines()):
        found = _SUMMARY_WORD.findall(line)
        if found and re.search(r"\bin [\d.]+s", line):
            for number, word in found:
                key = "errors" if word.startswith("error") else word
                if key in counts:
                    counts[key] += int(number)
            break
    return counts


def last_json_line(output: str) -> dict[str, Any] | None:
    """The last stdout line if it is one JSON object (the demo/bench contract), else None."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    return None
