"""The layers of docs/architecture.md: each package imports only the layers below it.

Every import is read from the syntax tree, including imports inside functions, so a deferred
import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("models", "activities", "workflows", "workers", "starters")

# What each layer may import of the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "activities": {"models"},
    "workflows": {"models"},
    "workers": {"models", "activities", "workflows"},
    "starters": {"models", "activities", "workflows", "workers"},
}


def project_imports(path: Path) -> set[tuple[str, int]]:
    """The project layers `path` imports, with the line of each import."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.add((top, node.lineno))
    return found


def violations(layer: str) -> list[str]:
    wrong = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for imported, line in sorted(project_imports(path)):
            if imported != layer and imported not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return wrong


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_the_layers_below_it(layer: str) -> None:
    assert violations(layer) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from activities.deals import allocate_deal_number\n")
    assert project_imports(module) == {("activities", 2)}
