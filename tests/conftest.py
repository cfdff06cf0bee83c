"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import pytest

from tailoring.content import library
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary


@pytest.fixture(scope="session")
def content() -> ContentLibrary:
    """The real content library, validated."""
    return library()


@pytest.fixture
def make_case(content: ContentLibrary):
    """Build a validated case from a protocol id and answer sections."""

    def build(protocol_id: str = "cbt_depression", sessions: int = 16, **answers) -> Case:
        return Case.model_validate(
            {
                "reference": "TEST-001",
                "protocol_id": protocol_id,
                "sessions_available": sessions,
                "answers": answers,
            },
            context={"content": content},
        )

    return build
