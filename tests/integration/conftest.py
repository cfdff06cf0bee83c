"""Fixtures that give repositories on real databases: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tailoring import services
from tailoring.storage.db import build_engine, make_engine, schema_revisions, upgraded_engine
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


def copied_database(source: str, folder: Path) -> Iterator[str]:
    """The URL of a new database that holds what ``source`` holds: a copy of its file in
    ``folder`` on SQLite; on PostgreSQL a database made with ``source`` as its template (whose
    connections are ended first, as a template may have none), dropped afterwards."""
    parsed = make_url(source)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        target = folder / f"copy-{uuid.uuid4().hex}.db"
        shutil.copyfile(parsed.database, target)
        yield f"sqlite:///{target}"
        return
    assert POSTGRES_URL
    name = f"tailoring_test_{uuid.uuid4().hex}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :source AND pid <> pg_backend_pid()"
                ),
                {"source": parsed.database},
            )
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_at_head() -> Iterator[str]:
    """The name of a database on the test server migrated to the latest schema, once per session:
    CREATE DATABASE ... TEMPLATE copies it."""
    assert POSTGRES_URL
    for url in fresh_postgres_database(POSTGRES_URL):
        upgraded_engine(url).dispose()
        yield str(make_url(url).database)


@pytest.fixture
def postgres_upgrade(postgres_at_head: str) -> Callable[[str], None]:
    """Replace a new, empty PostgreSQL database by a copy of postgres_at_head."""

    def bring(url: str) -> None:
        engine = build_engine(url)
        try:
            current, _ = schema_revisions(engine)
        finally:
            engine.dispose()
        if current is not None:
            return
        name = make_url(url).database
        admin = create_engine(POSTGRES_URL or "", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_at_head}"'))
        finally:
            admin.dispose()

    return bring


@pytest.fixture
def engine(database_url: str, upgrade: Callable[[str], None]) -> Iterator[Engine]:
    """An engine on the test's database, at the latest schema."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    """The repositories under test, each call in a unit of work of its own."""
    return Store.on(engine)


@pytest.fixture
def other_store(database_url: str, engine: Engine) -> Iterator[Store]:
    """A second person's repositories on the same database, through their own engine."""
    own = make_engine(database_url)
    yield Store.on(own)
    own.dispose()


@pytest.fixture
def app_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, upgrade: Callable[[str], None]
) -> str:
    """The services on the test's database without demo cases, started as one app server starts
    them after `db upgrade` (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("TAILORING_DATABASE_URL", database_url)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    upgrade(database_url)
    services.start()
    return database_url
