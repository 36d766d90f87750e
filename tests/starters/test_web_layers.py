"""The web layer's shape: routers never import the app module, and the modules under
`starters/web/` import each other without a cycle (no import works only by being deferred)."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "starters" / "web"
PACKAGE = "starters.web"


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (deferred imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from starters.web import deps` imports the module starters.web.deps
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def web_graph() -> dict[str, set[str]]:
    """Module → the `starters.web` modules it imports."""
    modules = {f"{PACKAGE}.{path.stem}": path for path in WEB.glob("*.py")}
    modules.pop(f"{PACKAGE}.__init__", None)
    return {name: _imports(path) & set(modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`, each as the path that closes it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "visiting" while on the current path, then "done"

    def visit(node: str, path: list[str]) -> None:
        state[node] = "visiting"
        for target in sorted(graph[node]):
            if state.get(target) == "visiting":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_graph_sees_the_routers() -> None:
    graph = web_graph()
    assert {"starters.web.app", "starters.web.deps", "starters.web.pages"} <= set(graph)
    assert "starters.web.deps" in graph["starters.web.tasks"]
    assert "starters.web.accept" in graph["starters.web.app"]


def test_no_web_module_imports_the_app() -> None:
    importers = [name for name, imported in web_graph().items() if "starters.web.app" in imported]
    assert importers == [], f"{importers} import starters.web.app: use deps.py or pages.py"


def test_no_import_cycle_among_web_modules() -> None:
    assert cycles(web_graph()) == []


def test_the_cycle_check_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
