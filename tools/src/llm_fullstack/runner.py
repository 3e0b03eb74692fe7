"""Run a command in a project folder, echo its output live, and keep it for parsing.

`run_streaming` is what `test` and `tour` use: the person watching sees every line as it comes,
and the caller gets the full text back (pytest's summary, the demo's last JSON line). A command
that hangs, silently or not, is killed with its process group at the timeout. POSIX only
(process groups), as the workspace is.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SUMMARY_WORD = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")
_SKIP_LINE = re.compile(r"^SKIPPED \[(\d+)\] (.*)$", re.MULTILINE)


@dataclass
class RunResult:
    returncode: int
    output: str
    seconds: float
    timed_out: bool = False


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the child's whole process group (pytest workers, a server it started, `uv`'s
    child), not just the child: a grandchild left alive would hold the pipe open."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_streaming(command: list[str], cwd: Path, *, timeout: float | None = None,
                  echo: bool = True, env: dict[str, str] | None = None) -> RunResult:
    """Run `command`, echo each line as it comes, and kill its process group after `timeout`
    seconds even if it prints nothing (a reader thread feeds a queue the loop waits on)."""
    start = time.perf_counter()
    lines: list[str] = []
    # A new session: the child and everything it starts form one group we can kill at once.
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, text=True, errors="replace",
                               bufsize=1, start_new_session=True)
    assert process.stdout is not None
    stream = process.stdout
    arrived: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            arrived.put(line)
        arrived.put(None)  # end of output

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        while True:
            left = None if timeout is None else timeout - (time.perf_counter() - start)
            try:
                if left is not None and left <= 0:
                    raise queue.Empty
                line = arrived.get(timeout=left)
            except queue.Empty:
                timed_out = True
                _kill_group(process)
                lines.append(f"[killed after {timeout:.0f} s]\n")
                break
            if line is None:
                break
            lines.append(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        returncode = process.wait()
    except KeyboardInterrupt:
        _kill_group(process)
        raise
    reader.join(timeout=5)
    if echo and timed_out:
        sys.stdout.write(lines[-1])
    return RunResult(returncode, "".join(lines), time.perf_counter() - start, timed_out)


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


def skip_reasons(output: str) -> list[tuple[int, str]]:
    """(count, reason) from pytest's `-rs` summary: 'SKIPPED [2] t.py:9: no CUDA' -> (2, 't.py:9: no
    CUDA')."""
    return [(int(n), reason.strip()) for n, reason in _SKIP_LINE.findall(output)]


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
