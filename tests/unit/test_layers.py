"""The arrow rule: pages, ui/, app.py and the command line reach storage through the use cases.

Read from the source with `ast`, as tests/unit/test_import_cycles.py reads the import graph: any
import of ``tailoring.storage`` (or of a module under it) by an entry point fails, named by file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = sorted(
    [
        ROOT / "app.py",
        *(ROOT / "pages").glob("*.py"),
        *(ROOT / "ui").glob("*.py"),
        ROOT / "tailoring" / "__main__.py",
        *(ROOT / "tailoring").glob("*_cli.py"),
    ]
)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, and every ``module.name`` it imports from one."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_entry_points_do_not_import_storage(path: Path) -> None:
    storage = sorted(
        name
        for name in imported(path)
        if name == "tailoring.storage" or name.startswith("tailoring.storage.")
    )
    assert not storage, f"{path.relative_to(ROOT)} imports {storage}: call tailoring.services"


def test_the_entry_points_are_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in ENTRY_POINTS}
    assert {"app.py", "tailoring/__main__.py", "tailoring/accounts_cli.py"} <= names
    assert any(name.startswith("pages/") for name in names)
