"""The tailoring package imports in one direction: no module reaches itself through its imports.

The graph is read from the source with `ast`, without importing anything. An edge is any import
of a tailoring module, at module level or inside a function or class: an import moved into a
function still means the two modules need each other, and hiding a circle there is the habit this
test exists to stop. Imports under `if TYPE_CHECKING:` do not count, because they never run and
only name types for annotations.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "tailoring"
ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, package: str) -> dict[str, Path]:
    return {_module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, skipping the body of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for orelse in child.orelse:
                yield from _imports(ast.Module(body=[orelse], type_ignores=[]))
        else:
            yield from _imports(child)


def _absolute(module: str, is_package: bool, statement: ast.ImportFrom) -> str:
    if not statement.level:
        return statement.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (statement.level - 1)]
    return ".".join([*base, statement.module] if statement.module else base)


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of `package` under `root`, with the package's modules it imports."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for statement in _imports(tree):
            if isinstance(statement, ast.Import):
                targets.update(alias.name for alias in statement.names)
                continue
            source = _absolute(module, path.name == "__init__.py", statement)
            for alias in statement.names:
                # `from package import submodule` imports the submodule; any other name comes
                # from the package's own __init__.
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
        graph[module] = {target for target in targets if target in modules and target != module}
    return graph


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of two or more modules that each reach all the others (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per tangle, as a shortest path from its first module back to itself."""
    return [_circle(graph, group) for group in tangles(graph)]


def _circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def test_the_tailoring_package_has_no_import_cycles():
    graph = import_graph()
    found = [
        f"{' -> '.join(_circle(graph, group))} (tangled: {', '.join(sorted(group))})"
        for group in tangles(graph)
    ]
    assert not found, "Import circles:\n" + "\n".join(found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg.b import thing\n",
                "pkg/b.py": "import pkg.a\n",
            },
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="module-level",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "",
                "pkg/sub/a.py": "from . import b\n",
                "pkg/sub/b.py": "def late():\n    from ..sub.a import thing\n",
            },
            [["pkg.sub.a", "pkg.sub.b", "pkg.sub.a"]],
            id="relative-and-inside-a-function",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "from pkg import a\n",
                "pkg/a.py": "from pkg import VERSION\n",
            },
            [["pkg", "pkg.a", "pkg"]],
            id="through-the-package-init",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from pkg.b import Thing\n"
                    "else:\n    import json\n"
                ),
                "pkg/b.py": "from pkg.a import other\n",
            },
            [],
            id="type-checking-only",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from typing import TYPE_CHECKING\nif not TYPE_CHECKING:\n    pass\n"
                "if TYPE_CHECKING:\n    pass\nelse:\n    from pkg import b\n",
                "pkg/b.py": "import pkg.a as a\n",
            },
            [["pkg.a", "pkg.b", "pkg.a"]],
            id="else-of-type-checking-runs",
        ),
    ],
)
def test_cycles_are_found_and_named(tmp_path, files, expected):
    _write(tmp_path, files)
    assert cycles(import_graph(tmp_path, "pkg")) == expected
