"""Imports run one way: core → corpus → index → assistant → eval → the command line and the web app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# a package may import its own layer and the layers before it, never one after it
LAYERS = {"core": 0, "corpus": 1, "index": 2, "assistant": 3, "eval": 4, "newsqa": 5, "app": 5}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in `source`, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def upward_imports(layer: str, source: str, where: str) -> list[str]:
    rank = LAYERS[layer]
    return [
        f"{where}:{line} imports {package} ({layer} may not import a later layer)"
        for line, package in imported_packages(source)
        if LAYERS.get(package, -1) > rank
    ]


def _modules() -> list[tuple[str, Path]]:
    modules = [("app", REPO / "app.py")]
    for package in LAYERS:
        if (REPO / package).is_dir():
            modules += [(package, path) for path in sorted((REPO / package).rglob("*.py"))]
    return modules


def test_no_module_imports_a_later_layer() -> None:
    problems = []
    for layer, path in _modules():
        problems += upward_imports(layer, path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("corpus", "from newsqa.cli import main\n"),
        ("core", "import corpus.store\n"),
        ("eval", "def f():\n    from newsqa.runtime import open_runtime\n"),  # hidden in a function
        ("index", "from assistant import chat\n"),
    ],
)
def test_the_check_catches_an_upward_import(layer: str, source: str) -> None:
    assert upward_imports(layer, source, "x.py")


def test_the_check_allows_downward_and_outside_imports() -> None:
    assert not upward_imports("assistant", "import json\nfrom core.types import Hit\nfrom index import hybrid\n", "x")
