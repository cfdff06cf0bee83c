"""Where the case database lives, and engines that are migrated to the current schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tailoring.storage.errors import StorageUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a SQLite writer waits for another process's lock before giving up.
SQLITE_LOCK_TIMEOUT = 15


def database_url() -> str:
    """The database URL from ``TAILORING_DATABASE_URL``, else a SQLite file in ``data/``."""
    url = os.environ.get("TAILORING_DATABASE_URL")
    if url:
        return url
    data = REPO_ROOT / "data"
    data.mkdir(exist_ok=True)
    return f"sqlite:///{data / 'tailoring.db'}"


def build_engine(url: str) -> Engine:
    """An engine configured for the backend in ``url``, without touching the schema."""
    # Parameters may hold patient notes: keep them out of logs and error messages.
    options: dict[str, Any] = {"hide_parameters": True}
    if make_url(url).get_backend_name() == "sqlite":
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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as error:
        raise StorageUnavailable() from error


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless each connection asks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()
