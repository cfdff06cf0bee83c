"""Fixtures that give repositories on real databases: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tailoring import services
from tailoring.storage.db import make_engine
from tests.store import Store

POSTGRES_URL = os.environ.get("TAILORING_TEST_POSTGRES_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not POSTGRES_URL, reason="set TAILORING_TEST_POSTGRES_URL to test PostgreSQL"
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database that only this test uses."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tailoring.db'}"
    else:
        assert POSTGRES_URL
        yield from fresh_postgres_database(POSTGRES_URL)


def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, then drop it."""
    name = f"tailoring_test_{uuid.uuid4().hex}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends connections a failed test may have left open.
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on the test's database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    """The repositories under test, each call in a unit of work of its own."""
    return Store.on(engine)


@pytest.fixture
def other_store(database_url: str) -> Iterator[Store]:
    """A second person's repositories on the same database, through their own engine."""
    engine = make_engine(database_url)
    yield Store.on(engine)
    engine.dispose()


@pytest.fixture
def app_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The services on the test's database without demo cases, started as one app server starts
    them (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("TAILORING_DATABASE_URL", database_url)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    services.start()
    return database_url
