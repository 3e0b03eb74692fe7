"""`llm-fullstack`: the catalog of chapters, and the two commands a newcomer runs first.

  llm-fullstack list            the 28 chapters: status, demo seconds, tests, headline figure
  llm-fullstack tour            every available chapter's demo on the embedded defaults
  llm-fullstack tour --path app one learning path (app, model, research); also --part N, --only A B
  llm-fullstack test [NAME…]    each project's tests in its own process (the CI matrix, locally)
  llm-fullstack matrix          the CI matrix as JSON
  llm-fullstack new NAME        scaffold a syllabus project that follows the conventions
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import measured
from .catalog import (
    BY_PROJECT,
    CHAPTERS,
    PARTS,
    PATHS,
    Chapter,
    available,
    is_available,
    path_chapters,
    project_dir,
    repo_root,
)
from .report import last_error_line, write_report
from .runner import RunResult, last_json_line, pytest_counts, run_streaming, skip_reasons
from .scaffold import scaffold

# A project's fast tier should stay under this on 2 cores, so that 28 projects fit one CI run.
FAST_TIER_BUDGET_S = 120

# Targets that are not chapters but are tested like them.
SHARED_TARGETS = {"shared": ("llm-shared", "shared"), "repo": ("llm-fullstack", "tools")}


# Under CI the only acceptable skip is a GPU test on a machine without one; any other skip means a
# required component (a reference library, the database) was missing, which CI must not hide.
_GPU_SKIP = re.compile(r"\b(cuda|gpu)\b", re.IGNORECASE)


class CatalogError(Exception):
    pass


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def judge(run: RunResult, counts: dict[str, int], *, ci: bool) -> str | None:
    """None when a target passed, else why it did not: a non-zero exit, any failure or error,
    nothing passed (pytest found no tests, or crashed before its summary), a timeout, and under
    CI a skip that is not a GPU test's."""
    if run.timed_out:
        return "timed out"
    if run.returncode != 0:
        return f"exit {run.returncode}"
    if counts["failed"] or counts["errors"]:
        return f"{counts['failed']} failed, {counts['errors']} errors"
    if counts["passed"] == 0:
        return "no test passed"
    if ci and counts["skipped"]:
        gpu_skips = sum(n for n, reason in skip_reasons(run.output) if _GPU_SKIP.search(reason))
        if counts["skipped"] > gpu_skips:
            return f"{counts['skipped'] - gpu_skips} skipped under CI"
    return None


def _uv() -> list[str]:
    # `uv run` tells its children where it is; otherwise look on PATH, then for a pip-installed one.
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _console() -> Console:
    # Logs and pipes get 80 columns from rich; the catalog's tables read better wider.
    width = None if sys.stdout.isatty() else 140
    return Console(stderr=False, highlight=False, width=width)


def cmd_list(args: argparse.Namespace) -> int:
    root = repo_root()
    known = measured.load()
    if args.json:
        rows = []
        for c in CHAPTERS:
            m = known.get(c.project, measured.Measured())
            rows.append({"part": c.part, "chapter": c.chapter, "title_zh": c.title_zh,
                         "title_en": c.title_en, "project": c.project,
                         "available": is_available(c.project, root),
                         "demo_seconds": m.demo_seconds, "fast_tests": m.fast_tests,
                         "test_seconds": m.test_seconds, "headline": m.headline})
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    table = Table(title="LLM Full-Stack Engineering: chapters and projects")
    for column in ("ch", "chapter", "project", "status", "demo s", "tests"):
        table.add_column(column, no_wrap=column != "chapter")
    table.add_column("headline (bench vs its peer)", ratio=1)
    for c in CHAPTERS:
        m = known.get(c.project, measured.Measured())
        ready = is_available(c.project, root)
        table.add_row(c.label, c.title_en, c.project,
                      "[green]available[/]" if ready else "planned",
                      _number(m.demo_seconds) if ready else "",
                      _number(m.fast_tests) if ready else "", m.headline if ready else "")
    _console().print(table)
    return 0


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _targets(names: Sequence[str], root: Path) -> list[tuple[str, str, Path]]:
    """(label, uv package, folder) for each test target; all of them when `names` is empty."""
    if not names:
        names = ["shared", "repo", *(c.project for c in available(root))]
    targets = []
    for name in names:
        if name in SHARED_TARGETS:
            package, folder = SHARED_TARGETS[name]
            targets.append((name, package, root / folder))
        elif name in BY_PROJECT:
            if not is_available(name, root):
                raise CatalogError(f"project '{name}' is planned, not available yet; "
                                   "`llm-fullstack list` shows the available ones")
            targets.append((name, name, project_dir(name, root)))
        else:
            raise CatalogError(f"unknown project '{name}'; `llm-fullstack list` shows the names")
    return targets


def cmd_test(args: argparse.Namespace) -> int:
    root = repo_root()
    targets = _targets(args.names, root)
    ci = in_ci()
    results = []
    for label, package, folder in targets:
        print(f"\n=== {label}: uv run --package {package} pytest ===", flush=True)
        # -rs: pytest lists each skip's reason, which `judge` reads under CI.
        command = [*_uv(), "run", "--package", package, "pytest", "-rs", *args.pytest_args]
        env = None
        if args.isolated:
            # Its own exact environment: a project that forgot to declare a dependency it
            # imports fails here even though a neighbour installs it in the shared .venv.
            command[len(_uv()) + 1:len(_uv()) + 1] = ["--exact"]
            env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(root / ".venvs" / label)}
        run = run_streaming(command, folder, timeout=args.timeout, env=env)
        counts = pytest_counts(run.output)
        results.append((label, judge(run, counts, ci=ci), counts, run.seconds))
    table = Table(title="llm-fullstack test")
    for column in ("target", "result", "passed", "failed", "errors", "skipped", "seconds", "note"):
        table.add_column(column)
    slow = []
    for label, problem, counts, seconds in results:
        verdict = "[green]ok[/]" if problem is None else f"[red]FAILED ({problem})[/]"
        note = ""
        if seconds > FAST_TIER_BUDGET_S:
            slow.append(label)
            note = f"[yellow]over the {FAST_TIER_BUDGET_S} s fast-tier budget[/]"
        table.add_row(label, verdict, *(str(counts[k]) for k in
                                        ("passed", "failed", "errors", "skipped")),
                      f"{seconds:.0f}", note)
    _console().print(table)
    wall = sum(r[3] for r in results)
    print(f"wall time: {_minutes(wall)} for {len(results)} targets")
    if slow:
        print(f"warning: fast tier over {FAST_TIER_BUDGET_S} s on this machine: "
              f"{', '.join(slow)} (move long tests under the `slow` marker)")
    if args.record:
        measured.update({label: {"fast_tests": counts["passed"], "test_seconds": round(seconds)}
                         for label, problem, counts, seconds in results
                         if problem is None and label in BY_PROJECT})
        print(f"recorded test counts and seconds in {measured.FILE}")
    total = {k: sum(r[2][k] for r in results) for k in ("passed", "failed", "errors", "skipped")}
    failed_targets = [r[0] for r in results if r[1] is not None]
    # The plain closing line CI reads: 'N passed, N failed, N skipped'.
    print(f"total: {total['passed']} passed, {total['failed'] + total['errors']} failed, "
          f"{total['skipped']} skipped")
    if failed_targets:
        print(f"failed targets: {', '.join(failed_targets)}")
    return 1 if failed_targets else 0


def _tour_selection(args: argparse.Namespace, root: Path) -> tuple[str, list[Chapter]]:
    """(a label for the selection, the chapters to run in order); planned ones are dropped."""
    if args.only:
        unknown = [n for n in args.only if n not in BY_PROJECT]
        if unknown:
            raise CatalogError(f"unknown project(s) {unknown}; "
                               "`llm-fullstack list` shows the names")
        label, wanted = "only " + " ".join(args.only), [BY_PROJECT[n] for n in args.only]
    elif args.path:
        label, wanted = f"path {args.path}: {PATHS[args.path][0]}", path_chapters(args.path)
    elif args.part is not None:
        if args.part not in PARTS:
            raise CatalogError(f"there is no part {args.part}; parts are 1 to {len(PARTS)}")
        label = f"part {args.part}: {PARTS[args.part][1]}"
        wanted = [c for c in CHAPTERS if c.part == args.part]
    else:
        label, wanted = "every available chapter", list(CHAPTERS)
    planned = [c.project for c in wanted if not is_available(c.project, root)]
    if planned and (args.only or args.path or args.part is not None):
        print(f"not yet available, skipped: {', '.join(planned)}")
    chapters = [c for c in wanted if is_available(c.project, root)]
    if not chapters:
        raise CatalogError(f"no available project in {label}; `llm-fullstack list` shows the "
                           "chapters")
    return label, chapters


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _bar(done: int, total: int, width: int = 28) -> str:
    filled = round(width * done / total)
    return "#" * filled + "-" * (width - filled)


def cmd_tour(args: argparse.Namespace) -> int:
    root = repo_root()
    label, chapters = _tour_selection(args, root)
    known = measured.load()
    names = [c.project for c in chapters]
    expected, guessed = measured.expected_seconds(names, known)
    guess_note = f" ({guessed} without a measurement, counted as 60 s each)" if guessed else ""
    print(f"tour ({label}): {len(chapters)} demos, expected about {_minutes(expected)}"
          f"{guess_note}", flush=True)
    rows, start = [], time.perf_counter()
    for index, chapter in enumerate(chapters, 1):
        elapsed = time.perf_counter() - start
        left, _ = measured.expected_seconds(names[index - 1:], known)
        print(f"\n[{_bar(index - 1, len(chapters))}] {index - 1}/{len(chapters)} done, "
              f"{_minutes(elapsed)} elapsed, about {_minutes(left)} left", flush=True)
        print(f"=== [{index}/{len(chapters)}] {chapter.label} {chapter.title_zh} / "
              f"{chapter.title_en}: uv run {chapter.project} demo ===", flush=True)
        command = [*_uv(), "run", "--package", chapter.project, chapter.project, "demo"]
        run = run_streaming(command, project_dir(chapter.project, root), timeout=args.timeout)
        figures = last_json_line(run.output) if run.returncode == 0 else None
        ok = figures is not None
        error = "" if ok else (last_error_line(run.output) if run.returncode != 0 else
                               "the demo's last line is not one JSON object")
        rows.append({"project": chapter.project, "label": chapter.label,
                     "title_en": chapter.title_en, "title_zh": chapter.title_zh, "ok": ok,
                     "seconds": round(run.seconds, 1), "figures": figures or {}, "error": error,
                     "headline": known.get(chapter.project, measured.Measured()).headline,
                     "readme": f"../../projects/{chapter.project}/README.md"})
    total = time.perf_counter() - start
    print(f"\n[{_bar(1, 1)}] {len(chapters)}/{len(chapters)} done in {_minutes(total)}")
    table = Table(title=f"llm-fullstack tour ({label})")
    for column in ("project", "result", "figures", "seconds"):
        table.add_column(column)
    for row in rows:
        shown = ", ".join(f"{k}={v}" for k, v in row["figures"].items()
                          if not isinstance(v, (dict, list)))
        table.add_row(row["project"], "[green]ok[/]" if row["ok"] else "[red]FAILED[/]",
                      shown if row["ok"] else row["error"], f"{row['seconds']:.0f}")
    _console().print(table)
    report = {"selection": label, "seconds": round(total, 1), "chapters": rows,
              "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    out = Path(args.out) if args.out else root / "runs" / "tour"
    json_path, html_path = write_report(report, out)
    print(f"report: {html_path} and {json_path.name}")
    if args.record:
        measured.update({r["project"]: {"demo_seconds": round(r["seconds"])} for r in rows
                         if r["ok"]})
        print(f"recorded demo seconds in {measured.FILE}")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    return 0 if all(r["ok"] for r in rows) else 1


def matrix(root: Path) -> dict:
    include = [{"name": name, "package": pkg, "path": folder}
               for name, (pkg, folder) in SHARED_TARGETS.items()]
    include += [{"name": c.project, "package": c.project, "path": f"projects/{c.project}"}
                for c in available(root)]
    return {"include": include}


def cmd_matrix(args: argparse.Namespace) -> int:
    print(json.dumps(matrix(repo_root())))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    if args.name not in BY_PROJECT:
        raise CatalogError(f"'{args.name}' is not a syllabus project; choose one of "
                           + ", ".join(c.project for c in CHAPTERS))
    try:
        target = scaffold(args.name, repo_root())
    except FileExistsError as exc:
        raise CatalogError(f"{exc}; pick another project or remove the folder") from exc
    print(f"created {target.relative_to(repo_root())}; next: cd {target.relative_to(repo_root())}"
          f" && uv run {args.name} demo")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-fullstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser("list", help="the chapters and their projects")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)
    p = commands.add_parser("tour", help="run the chapters' demos (all, a learning path, a part)",
                            description="Run chapters' demos on the embedded defaults and write "
                            "runs/tour/report.html and report.json. Paths: "
                            + "; ".join(f"{k} = {v[0]}" for k, v in PATHS.items()))
    which = p.add_mutually_exclusive_group()
    which.add_argument("--path", choices=sorted(PATHS), help="one learning path, in its order")
    which.add_argument("--part", type=int, metavar="N", help="the chapters of part N (1-7)")
    which.add_argument("--only", nargs="+", metavar="NAME", help="just these projects")
    p.add_argument("--out", metavar="DIR", help="report folder (default runs/tour)")
    p.add_argument("--record", action="store_true",
                   help="store each passing demo's seconds in the catalog (measured.json)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per demo (default 600)")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    p.set_defaults(func=cmd_tour)
    p = commands.add_parser("test", help="each project's tests in its own process")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="projects (or 'shared', 'repo'); default: all available")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per target (default 1800)")
    p.add_argument("--isolated", action="store_true",
                   help="give each target its own exact environment under .venvs/ (as CI does)")
    p.add_argument("--record", action="store_true",
                   help="store each passing project's test count and seconds in the catalog")
    p.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[],
                   help="passed on to pytest (put last)")
    p.set_defaults(func=cmd_test)
    p = commands.add_parser("matrix", help="the CI matrix as JSON")
    p.set_defaults(func=cmd_matrix)
    p = commands.add_parser("new", help="scaffold a syllabus project")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_new)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return args.func(args)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
