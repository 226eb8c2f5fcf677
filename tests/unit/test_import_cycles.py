"""The packages of src/atelier import one another without a cycle (docs/architecture.md says what each may import)."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "atelier"


def imported(node: ast.AST) -> list[str]:
    """The dotted names an import statement imports (`from atelier import x` names `atelier.x`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "atelier" else [node.module]
    return []


def package_imports() -> dict[str, set[str]]:
    """Each top-level package (or module) of atelier, with the others it imports anywhere in its files."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        own = path.relative_to(SRC).parts[0].removesuffix(".py")
        found = graph.setdefault(own, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in imported(node):
                parts = name.split(".")
                if parts[0] == "atelier" and len(parts) > 1 and parts[1] != own:
                    found.add(parts[1])
    return graph


def test_the_graph_is_read_from_the_sources() -> None:
    graph = package_imports()
    assert {"collect", "features", "validation", "catalog", "cli"} <= set(graph)
    assert "catalog" in graph["collect"] and "catalog" in graph["features"]


def test_no_cycle_between_packages() -> None:
    try:
        TopologicalSorter(package_imports()).prepare()
    except CycleError as error:
        raise AssertionError(f"packages import one another in a cycle: {' -> '.join(error.args[1])}") from None
