"""Where the case database lives, engines on it, and the migrations that bring its schema to
the current revision (run as an explicit step: ``python -m tailoring db upgrade``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from tailoring import settings
from tailoring.storage.errors import MayNotMigrate, SchemaOutdated, StorageUnavailable
from tailoring.storage.tables import audit_log, metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a SQLite writer waits for another process's lock before giving up.
SQLITE_LOCK_TIMEOUT = 15
# A SQLite file holds every case: only the account that runs the app may read it. SQLite gives its
# journal and WAL files the permissions of the database file.
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
# PostgreSQL's code for "permission denied" and "must be owner".
INSUFFICIENT_PRIVILEGE = "42501"


def database_url() -> str:
    """The database URL from ``TAILORING_DATABASE_URL``, else a SQLite file in ``data/``."""
    url = settings.current().database_url
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
    """An engine for ``url`` (default: :func:`database_url`) whose schema is at head.

    SchemaOutdated, naming the command to run, for an empty or out-of-date schema: nothing but
    ``db upgrade`` changes the schema, so a new version of the app started beside a team's
    running servers never migrates under them.
    """
    engine = build_engine(url or database_url())
    try:
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def upgraded_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: :func:`database_url`) after migrating it to head."""
    engine = build_engine(url or database_url())
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def migrate(engine: Engine) -> None:
    """Apply every pending Alembic migration; a no-op when the schema is current.

    MayNotMigrate when the database refuses the change to this role (it does not own the tables).
    """
    try:
        # Not in a transaction: the migrations environment opens its own, see env.py.
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            raise MayNotMigrate() from error
        raise StorageUnavailable() from error


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """The revision the database is at (None before the first migration), and the latest one."""
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
    except DBAPIError as error:
        raise StorageUnavailable() from error
    assert head is not None
    return current, head


def require_current(engine: Engine) -> None:
    """SchemaOutdated unless the database's schema is at the latest revision."""
    current, head = schema_revisions(engine)
    if current != head:
        raise SchemaOutdated(current, head)


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
    try:
        path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except OSError as exc:  # a file where the folder should be, no permission, a full disk
        raise StorageUnavailable() from exc


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless each connection asks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def grant_app_role(engine: Engine, role: str) -> None:
    """Give PostgreSQL role ``role`` what the app needs and no more; run as the tables' owner.

    Reading and writing every table, except the audit log, which it may only read and append to,
    and the schema's revision, which it may only read. Re-run after each migration that adds a
    table. ValueError on SQLite, for a role that does not exist or owns the tables, or when run
    by a role that does not own them.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("database roles are PostgreSQL's: SQLite has none to grant")
    quote = engine.dialect.identifier_preparer.quote
    who = quote(role)
    with transaction(engine) as connection:
        problem = _grant_problem(connection, role)
        if problem:
            raise ValueError(problem)
        schema = quote(connection.execute(text("SELECT current_schema()")).scalar_one())
        rights = {audit_log.name: "SELECT, INSERT", "alembic_version": "SELECT"}
        for table in [*(t.name for t in metadata.sorted_tables), "alembic_version"]:
            where = f"{schema}.{quote(table)}"
            connection.execute(text(f"REVOKE ALL ON {where} FROM {who}"))
            grant = rights.get(table, "SELECT, INSERT, UPDATE, DELETE")
            connection.execute(text(f"GRANT {grant} ON {where} TO {who}"))
        connection.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"))


def _grant_problem(connection: Connection, role: str) -> str | None:
    """Why ``role`` cannot be given the app's rights by this connection's role (None: it can)."""
    if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        owner, me = connection.execute(
            text(
                "SELECT tableowner, current_user FROM pg_tables "
                "WHERE tablename = 'audit_log' AND schemaname = current_schema()"
            )
        ).one_or_none() or (None, None)
        if owner is None:
            return "the database has no tables yet: run `python -m tailoring db upgrade` first"
        if owner == role:
            return f"{role} owns the tables, so it could lift any rule: give the app its own role"
        if owner != me:
            return f"run this as {owner}, the role that owns the tables (not {me})"
        return None
    return f"there is no role {role}: create it first (CREATE ROLE {role} LOGIN PASSWORD '...')"
