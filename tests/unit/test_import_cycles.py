"""The packages of src/atelier import one another without a cycle, and only as docs/architecture.md allows."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "atelier"
ARCHITECTURE = REPO / "docs" / "architecture.md"
EVERY = "every package"


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


def allowed_imports() -> dict[str, set[str] | None]:
    """The table of docs/architecture.md: each package (or module) and what it may import; None for any."""
    rows = [
        line.split("|")[1:-1]
        for line in ARCHITECTURE.read_text().splitlines()
        if line.startswith("| `") and line.count("|") == 4
    ]
    allowed: dict[str, set[str] | None] = {}
    for names, _, may in rows:
        for name in re.findall(r"`(\w+)`", names):
            allowed[name] = None if may.strip() == EVERY else set(re.findall(r"`(\w+)`", may))
    return allowed


def test_every_package_imports_only_what_the_architecture_allows() -> None:
    allowed, graph = allowed_imports(), package_imports()
    graph.pop("__init__")
    undocumented = sorted(set(graph) - set(allowed))
    assert not undocumented, f"packages missing from the table in {ARCHITECTURE.name}: {undocumented}"
    extra = {own: sorted(found - may) for own, found in graph.items() if (may := allowed[own]) is not None}
    extra = {own: names for own, names in extra.items() if names}
    assert not extra, f"imports that {ARCHITECTURE.name} does not allow: {extra}"


def test_the_table_is_read_from_the_architecture_page() -> None:
    allowed = allowed_imports()
    assert allowed["cli"] is None and allowed["model"] == {"errors"}
    assert allowed["runtime"] == {"config", "errors", "outcome", "spark"} and allowed["command"] == {
        "errors",
        "outcome",
        "runtime",
    }
