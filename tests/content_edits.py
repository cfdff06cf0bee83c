"""Helpers for tests that break a copy of the content and check how the break is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tailoring.content import ContentError, load_content


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    """Load a YAML file, let ``change`` alter the data, and write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def content_problems(directory: Path) -> list[str]:
    """The problems loading ``directory`` reports (it must fail)."""
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    return caught.value.problems


def has_problem(problems: list[str], *parts: str) -> bool:
    """Whether one problem line mentions every part (a file, a field, a word)."""
    return any(all(part in line for part in parts) for line in problems)
