"""The layers of docs/architecture.md hold: import contracts, no cycle between packages, small modules and functions.

The contracts live in pyproject.toml (``[tool.importlinter]``) and are checked by ``lint-imports``; these tests run it
on the tree and on a copy with one deliberate violation, so that a contract that can no longer fail is noticed.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_CHARS = 25_000
MAX_FUNCTION_LINES = 80


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy_tree(to: Path) -> Path:
    """The project's packages (Python files only) and its pyproject.toml, in a fresh directory."""
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            to / package,
            ignore=lambda _d, names: [n for n in names if n == "__pycache__" or Path(n).suffix not in {"", ".py"}],
        )
    shutil.copy(REPO_ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


@pytest.mark.slow
def test_the_import_contracts_hold_on_the_tree() -> None:
    result = _lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("corpus/_probe.py", "import workbench.views\n", "Nothing imports workbench"),
        ("corpus/_probe.py", "import validation.reports\n", "The flow runs one way"),
        ("stats/_probe.py", "import django.db\n", "Pure modules import no Django"),
        ("corpus/_probe.py", "import anthropic\n", "Only the LLM client module imports the anthropic SDK"),
        ("taxonomy/_probe.py", "import annotate.models\n", "The analysis apps read corpus and extraction only"),
    ],
)
def test_a_module_that_breaks_a_contract_fails_the_check(
    tmp_path: Path, module: str, source: str, contract: str
) -> None:
    root = _copy_tree(tmp_path)
    assert _lint_imports(root).returncode == 0, "the copy must pass before the probe is added"
    (root / module).write_text(source)
    result = _lint_imports(root)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def _package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(*PACKAGES)
    edges: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for importer in graph.modules:
        top = importer.split(".")[0]
        if top not in edges:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            other = imported.split(".")[0]
            if other in edges and other != top:
                edges[top].add(other)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.slow
def test_no_cycle_between_the_project_packages() -> None:
    edges = _package_graph()
    assert edges["workbench"], "the graph must see the workbench's imports"
    assert _cycle(edges) is None, f"cycle between packages: {' -> '.join(_cycle(edges) or [])}"


def _project_files() -> list[Path]:
    skip = {"bench"}
    files = []
    for package in PACKAGES:
        if package in skip:
            continue
        files += [p for p in (REPO_ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_no_module_over_25000_characters() -> None:
    files = _project_files()
    assert len(files) > 50
    big = [f"{p.relative_to(REPO_ROOT)} ({len(p.read_text())})" for p in files if len(p.read_text()) > MAX_MODULE_CHARS]
    assert not big, big


def test_no_function_over_80_lines() -> None:
    assert _long_functions(Path(__file__)) == [], "this file itself has short functions"
    long = [line for p in _project_files() for line in _long_functions(p)]
    assert not long, long
