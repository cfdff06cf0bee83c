"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from tailoring import auth
from tailoring.content import CONTENT_DIR, library
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.storage.db import upgraded_engine

# The app's own hasher, kept before any test swaps it (test_auth pins its parameters).
APP_HASHER = auth._hasher
# Thousands of times cheaper than the app's argon2 cost (a sign-in took 0.66 s): one iteration
# over 64 KiB, still more than the 8 KiB of the "weaker" hashes tests expect a login to replace.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test in this process hashes and checks passwords with TEST_HASHER."""
    monkeypatch.setattr(auth, "_hasher", TEST_HASHER)
    auth._stand_in_hash.cache_clear()
    yield
    auth._stand_in_hash.cache_clear()


@pytest.fixture(scope="session")
def schema_at_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file that the migrations brought to the latest schema, once per session."""
    path = tmp_path_factory.mktemp("schema") / "head.db"
    upgraded_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def upgrade(schema_at_head: Path, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Bring a new database to the latest schema, as `db upgrade` does, by copying one migrated
    once per session: migrating took up to a second for each test. A database that has tables
    already is left as it is. PostgreSQL's copy is tests/integration/conftest.py's."""

    def bring(url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            request.getfixturevalue("postgres_upgrade")(url)
            return
        assert parsed.database, "an in-memory database cannot be copied into"
        path = Path(parsed.database)
        if not path.exists() or path.stat().st_size == 0:
            shutil.copyfile(schema_at_head, path)

    return bring


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
