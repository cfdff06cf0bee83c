"""Alembic environment: migrates the connection ``migrate`` hands over, or the app's database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tailoring.storage.db import build_engine, database_url, suspended_foreign_keys
from tailoring.storage.tables import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on one connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite can barely ALTER a table, so later migrations must copy and rebuild it.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with suspended_foreign_keys(connection), context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    # From the command line: `alembic -c tailoring/storage/alembic.ini upgrade head`.
    engine = build_engine(database_url())
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()
