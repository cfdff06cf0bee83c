"""Failed sign-ins and wrong patient codes, counted per bucket in the SQL database.

Kept in the database, the counts hold across restarts and app servers, and a flood of new names
cannot push a lock out of a bounded memory. Each bucket is stored under the SHA-256 of its name
(``login.name:dr.a``, ``code.client:203.0.113.9``): what someone typed as a username may be a
password, so it is not written down as typed. A row is deleted once its window and its lock are
over, at the next failure of any bucket, so the table holds only the failures of the last window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tailoring.engine.throttle import Failures, Policy, after_failure, forget_at
from tailoring.storage.tables import sign_in_attempts

ROWS = sign_in_attempts.c
# The two databases the app runs on, each with its own "insert unless there is one".
UPSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class SignInAttempts:
    """The failure counts of every bucket, in one table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def locked_until(self, buckets: Iterable[str], now: datetime) -> datetime | None:
        """When the last lock in force on any of ``buckets`` ends; None if none is locked."""
        hashes = [bucket_hash(b) for b in buckets]
        until = self._connection.execute(
            select(ROWS.locked_until).where(ROWS.key_hash.in_(hashes), ROWS.locked_until > now)
        ).scalars()
        return max(until, default=None)

    def failures(self, bucket: str, now: datetime) -> Failures | None:
        """The failures counted in ``bucket``, or None if none still matter at ``now``."""
        row = self._connection.execute(
            select(sign_in_attempts).where(
                ROWS.key_hash == bucket_hash(bucket), ROWS.forget_at > now
            )
        ).first()
        return None if row is None else _failures(row)

    def fail(self, bucket: str, policy: Policy, now: datetime) -> Failures:
        """Count one failure in ``bucket`` at ``now`` and return its count and any lock.

        Two failures at once are both counted: the row is created if missing and then locked
        (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite lets one writer in at a time).
        """
        key = bucket_hash(bucket)
        self._connection.execute(delete(sign_in_attempts).where(ROWS.forget_at <= now))
        _insert_missing(self._connection, key, now)
        row = self._connection.execute(
            select(sign_in_attempts).where(ROWS.key_hash == key).with_for_update()
        ).one()
        before = None if row.failures == 0 else _failures(row)
        counted = after_failure(before, policy, now)
        self._connection.execute(
            update(sign_in_attempts)
            .where(ROWS.key_hash == key)
            .values(
                failures=counted.count,
                window_start=counted.window_start,
                locked_until=counted.locked_until,
                forget_at=forget_at(counted, policy),
            )
        )
        return counted

    def forget(self, bucket: str) -> None:
        """Drop the failures of ``bucket`` and lift its lock (a right password, a new one)."""
        forget_bucket(self._connection, bucket)


def forget_bucket(connection: Connection, bucket: str) -> None:
    """Drop a bucket inside another transaction (a new password lifts its account's lock)."""
    connection.execute(delete(sign_in_attempts).where(ROWS.key_hash == bucket_hash(bucket)))


def bucket_hash(bucket: str) -> str:
    return hashlib.sha256(bucket.encode("utf-8", "replace")).hexdigest()


def _insert_missing(connection: Connection, key: str, now: datetime) -> None:
    """Add an empty row for ``key`` unless there is one, without failing if another writer
    adds it at the same moment."""
    values: dict[str, Any] = {
        "key_hash": key,
        "failures": 0,
        "window_start": now,
        "forget_at": now,
    }
    upsert = UPSERTS[connection.dialect.name]
    connection.execute(upsert(sign_in_attempts).values(values).on_conflict_do_nothing())


def _failures(row: Any) -> Failures:
    return Failures(row.failures, row.window_start, row.locked_until)
