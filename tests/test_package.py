"""The package's shape: no import cycle between its modules, no import of another
module of the package hidden inside a function, every module of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "dynamic_io_asgi"
#: About 350 lines a module (the norm of starlette and uvicorn is 60-260).
MAX_LINES = 350


def _imports(tree: ast.Module) -> set[str]:
    """The package modules a module imports at its top level (``from . import x``,
    ``from ._x import y``)."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:
                found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {path.stem: _imports(ast.parse(path.read_text())) for path in PACKAGE.glob("*.py")}


def test_no_import_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_no_package_import_inside_a_function() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    assert not (isinstance(inner, ast.ImportFrom) and inner.level), (
                        f"{path.name}:{inner.lineno} imports from the package inside {node.name}"
                    )


def test_modules_stay_readable() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
