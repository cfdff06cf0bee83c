"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tailoring.content import CONTENT_DIR, library
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary


@pytest.fixture(scope="session")
def content() -> ContentLibrary:
    """The real content library, validated."""
    return library()


@pytest.fixture
def make_case(content: ContentLibrary):
    """Build a validated case from a protocol id and answer sections."""

    def build(
        protocol_id: str = "cbt_depression",
        sessions: int = 16,
        problem: str | None = None,
        **answers,
    ) -> Case:
        return Case.model_validate(
            {
                "reference": "TEST-001",
                "protocol_id": protocol_id,
                "problem": problem,
                "sessions_available": sessions,
                "answers": answers,
            },
            context={"content": content},
        )

    return build


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the content folder, to break in one place."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target
