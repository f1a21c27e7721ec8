"""The floor plan holds: imports only go down (core <- stages <- detectors and evaluation <- CLI),
and no module imports, even inside a function, one that imports it back (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("datafactory", "pipelines", "detectors")
#: Higher floors may import lower ones, never the reverse.
FLOORS = {"core": 0, "stages": 1, "detectors": 2, "cli": 3}


def floor(module: str) -> str:
    if module == "datafactory.__main__" or module.startswith("datafactory.cli"):
        return "cli"
    return {"datafactory": "core", "pipelines": "stages", "detectors": "detectors"}[module.split(".")[0]]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules ``path`` imports anywhere in its code (function bodies included)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from package import module`` imports the module; ``from module import name``, the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in PACKAGES:
                continue
            while name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in known:
                targets.add(name)
    return targets


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_imports_only_go_down_the_floors(graph):
    upward = sorted(f"{source} ({floor(source)}) imports {target} ({floor(target)})"
                    for source, targets in graph.items() for target in targets
                    if FLOORS[floor(target)] > FLOORS[floor(source)])
    assert upward == []


def test_no_import_circles(graph):
    # Tarjan's strongly connected components: any component of more than one module is a circle.
    # Package __init__ modules are left out as targets: importing a submodule runs them anyway.
    edges = {source: {t for t in targets if not (ROOT / t.replace(".", "/") / "__init__.py").exists()}
             for source, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert circles == []


def test_core_names_no_stage():
    """Core code finds stages through the registry: adding one never means editing the core."""
    stage_names = ("entity_swap", "generate_article", "repurpose_image")
    offenders = []
    for name, path in modules().items():
        if floor(name) != "core" or name == "datafactory.registry":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and any(stage in node.value for stage in stage_names):
                offenders.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    assert offenders == []


def test_the_graph_sees_function_level_imports(graph):
    # The checks above would pass vacuously if lazy imports were missed: the runner imports the
    # card at module level, the build command imports the runner.
    assert "datafactory.card" in graph["datafactory.runner"]
    assert "datafactory.runner" in graph["datafactory.cli.build_cmd"]
