"""`llm-fullstack new NAME`: a project folder that already follows CONVENTIONS (for syllabus names).

The scaffold is a working project, not a stub: its `demo` asks the embedded SmolLM2 a question about
the chapter's topic and prints the answer, so `uv run NAME demo` and its tests pass from the start.
The chapter's real work then replaces that demo.
"""

from __future__ import annotations

from pathlib import Path

from .catalog import BY_PROJECT, Chapter

PYPROJECT = '''[project]
name = "{name}"
version = "0.1.0"
description = "{topic} — chapter {label} of LLM Full-Stack Engineering ({title_zh})"
readme = "README.md"
requires-python = ">=3.11"
license = "Apache-2.0"
dependencies = ["llm-shared", "torch>=2.9"]

[project.scripts]
{name} = "{package}.cli:main"

[dependency-groups]
dev = ["pytest>=8"]

[tool.uv.sources]
llm-shared = {{ workspace = true }}

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]

[tool.pytest.ini_options]
addopts = "--import-mode=importlib -m 'not slow'"
testpaths = ["tests"]
markers = ["slow: real sizes or many steps (run with -m slow)", "gpu: needs CUDA"]
'''

INIT = '''"""{name}: {topic} (chapter {label}, {title_zh}).

Public API: `DemoConfig`, `run_demo`.
"""

from .config import DemoConfig
from .demo import run_demo

__all__ = ["DemoConfig", "run_demo"]
'''

CONFIG = '''"""Settings of {name}; each field's help is the reference and becomes a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    max_new_tokens: int = param(48, help="tokens to generate")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise UserError(f"--max-new-tokens must be > 0 (got {{self.max_new_tokens}})")
'''

DEMO = '''"""The chapter demo: one question about the topic to the embedded model.

Run: `uv run {name} demo`. Replace with the chapter's real demonstration.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from llm_shared import load_causal_lm

from .config import DemoConfig


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    model, tokenizer = load_causal_lm(config.model, device=config.device)
    messages = [{{"role": "user", "content": "In one sentence, what is {topic_q}?"}}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids.to(model.device), max_new_tokens=config.max_new_tokens,
                             do_sample=False)
    answer = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    return {{"answer": answer.strip(), "new_tokens": int(out.shape[1] - ids.shape[1]),
            "seconds": round(time.perf_counter() - start, 2)}}
'''

CLI = '''"""Command line of {name}: a thin layer over the library (see `{name} --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from llm_shared import add_config_args, build_config, cli_entry, emit_json

from .config import DemoConfig
from .demo import run_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{name}",
        description="{topic} — chapter {label} ({title_zh}) of LLM Full-Stack Engineering.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="a short run on the embedded defaults")
    add_config_args(demo, DemoConfig)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        result = run_demo(build_config(DemoConfig, args))
        print(result["answer"])
        emit_json({{k: v for k, v in result.items() if k != "answer"}})
    return 0
'''

CONFTEST = '''import pytest

from llm_shared import load_causal_lm


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    return load_causal_lm("tiny-llama", device="cpu")
'''

TEST_CLI = '''import json

import pytest

from {package}.cli import main


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_bad_flag_is_one_line_error(capsys):
    assert main(["demo", "--max-new-tokens", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\\n" not in err


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--model", "tiny-llama", "--max-new-tokens", "4"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["new_tokens"] >= 1
'''

README = '''# {name} — {title_en} ({title_zh})

Chapter {label} of *LLM Full-Stack Engineering* (大模型全栈开发笔记), part {part}
({part_zh}): {topic}.

## Quick start
```
cd projects/{name}
uv run {name} demo          # the chapter on the embedded defaults
uv run --package {name} pytest   # its tests
```

## Results
| command | hardware | figures |
|---|---|---|

## Design notes

## Limits
'''


def scaffold(name: str, root: Path) -> Path:
    """Write projects/<name>/ for a syllabus name; refuses to overwrite an existing folder."""
    chapter: Chapter = BY_PROJECT[name]
    target = root / "projects" / name
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    values = {
        "name": name, "package": chapter.package, "topic": chapter.topic, "label": chapter.label,
        "title_zh": chapter.title_zh, "title_en": chapter.title_en, "part": chapter.part,
        "part_zh": chapter.part_zh, "topic_q": chapter.topic.split(",")[0].strip(),
    }
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README,
        f"src/{chapter.package}/__init__.py": INIT, f"src/{chapter.package}/config.py": CONFIG,
        f"src/{chapter.package}/demo.py": DEMO, f"src/{chapter.package}/cli.py": CLI,
        "tests/conftest.py": CONFTEST, "tests/test_cli.py": TEST_CLI,
    }
    for rel, template in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    mark_available(name, root / "README.md")
    return target


def mark_available(name: str, readme: Path) -> bool:
    """Flip the project's row in the root README's syllabus table from planned to available (the
    repo tests hold the table to the folders). Returns whether a row changed."""
    if not readme.is_file():
        return False
    lines = readme.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("|") and f"`{name}`" in line and line.rstrip().endswith("| planned |"):
            lines[index] = line.rstrip()[: -len("planned |")] + "**available** |\n"
            readme.write_text("".join(lines), encoding="utf-8")
            return True
    return False
