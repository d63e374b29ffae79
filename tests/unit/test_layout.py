"""The layout the architecture document promises: capability packages, no import loops."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("functions", "training", "infra", "scripts")


def _loops(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. the import loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return loops


def test_no_module_imports_itself_through_others() -> None:
    # GIVEN the import graph of every package of the repository (imports inside functions included)
    graph = grimp.build_graph(*ROOTS)
    # WHEN the import loops are looked for
    loops = _loops(graph)
    # THEN there are none
    assert loops == []


def test_the_loop_finder_sees_a_loop() -> None:
    # GIVEN a graph in which a imports b and b imports a
    graph = grimp.ImportGraph()
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    # WHEN / THEN the loop is reported, and only the loop
    assert _loops(graph) == [["pkg.a", "pkg.b"]]


def test_the_core_is_only_capability_packages() -> None:
    # GIVEN the domain folder
    core = REPO / "functions" / "core"
    # WHEN its top-level Python files are listed
    flat = sorted(path.name for path in core.glob("*.py"))
    # THEN only the package marker is there: every module lives in a capability package
    assert flat == ["__init__.py"]
    assert {p.name for p in core.iterdir() if p.is_dir() and not p.name.startswith("__")} >= {
        "base",
        "detection",
        "skills",
        "serving",
        "dataset",
        "labelling",
        "gate",
        "audit",
    }


def test_every_handler_is_in_the_layer_contract() -> None:
    # GIVEN the function folders (each with a handler.py) and the import-linter contracts
    handlers = {p.parent.name for p in (REPO / "functions").glob("*/handler.py")}
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layered = next(c for c in contracts if c["name"].startswith("Handlers sit on the core"))
    # WHEN the handler layer of that contract is read
    listed = {name.strip().removeprefix("functions.") for name in layered["layers"][0].split("|")}
    # THEN every function is checked by it (a new handler cannot slip past the layer rule)
    assert listed == handlers
