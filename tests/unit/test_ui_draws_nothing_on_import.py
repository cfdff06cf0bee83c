"""Modules under ui/ draw only when a page calls them, never when they are imported.

Python runs a module's top level once per process: a call such as ``st.title`` there drew on the
first page that imported the module and never again (the caseload's title showed twice, once).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "ui"


def _drawing_calls(tree: ast.Module) -> list[str]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            while isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name) and func.id == "st":
                found.append(f"line {node.lineno}: {ast.unparse(node.value)[:60]}")
    return found


@pytest.mark.parametrize("path", sorted(UI.glob("*.py")), ids=lambda p: p.name)
def test_a_ui_module_draws_nothing_at_its_top_level(path: Path):
    assert _drawing_calls(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_check_finds_a_drawing_call():
    assert _drawing_calls(ast.parse('import streamlit as st\nst.title("Caseload")\n')) == [
        "line 2: st.title('Caseload')"
    ]
