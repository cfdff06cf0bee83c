"""Where the case database lives, and engines that are migrated to the current schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from tailoring.storage.errors import StorageUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a SQLite writer waits for another process's lock before giving up.
SQLITE_LOCK_TIMEOUT = 15
# A SQLite file holds every case: only the account that runs the app may read it. SQLite gives its
# journal and WAL files the permissions of the database file.
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def database_url() -> str:
    """The database URL from ``TAILORING_DATABASE_URL``, else a SQLite file in ``data/``."""
    url = os.environ.get("TAILORING_DATABASE_URL")
    if url:
        return url
    data = REPO_ROOT / "data"
    data.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
    return f"sqlite:///{data / 'tailoring.db'}"


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction; a database outage surfaces as StorageUnavailable."""
    try:
        with engine.begin() as connection:
            yield connection
    except IntegrityError:
        raise  # a broken rule, not an outage: the caller says which rule
    except DBAPIError as error:
        raise StorageUnavailable() from error


def build_engine(url: str) -> Engine:
    """An engine configured for the backend in ``url``, without touching the schema."""
    # Parameters may hold patient notes: keep them out of logs and error messages.
    options: dict[str, Any] = {"hide_parameters": True}
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_private_file(parsed.database)
        options["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT}
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: :func:`database_url`) whose schema is at head."""
    engine = build_engine(url or database_url())
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Apply every pending Alembic migration; a no-op when the schema is current."""
    try:
        # Not in a transaction: the migrations environment opens its own, see env.py.
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
    except DBAPIError as error:
        raise StorageUnavailable() from error


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that migrates the database of ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def suspended_foreign_keys(connection: Connection) -> Iterator[None]:
    """On SQLite, turn foreign keys off while the schema changes, then check and restore them.

    SQLite alters a table by copying it and dropping the original, and dropping a table with
    foreign keys on deletes its rows first, cascading to every row that refers to them: rebuilding
    ``cases`` would empty ``answers``. SQLite's documented procedure is this one. Elsewhere a
    no-op. ``connection`` must not be in a transaction, where SQLite ignores the pragma.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    connection.commit()
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("SQLite kept foreign keys on, so migrating could delete rows")
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise RuntimeError(f"migrating left rows of {broken[0]} without their case")
    finally:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        connection.commit()


def _create_private_file(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only, before SQLite creates it 0644.

    Its folder too, if missing. An existing file keeps the permissions its owner gave it; an
    in-memory database (no name, or ``:memory:``) has no file.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless each connection asks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()
