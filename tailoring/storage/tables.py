"""The database tables of cases and what is recorded about them (migrations make the schema)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, also on SQLite, which stores no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times, so every stored time is unambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back aware UTC times whatever the backend returned."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("protocol_id", String(40), nullable=False),
    Column("sessions_available", Integer, nullable=False),
    Column("step", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # An attempt is a trainee's answer to a teaching scenario, kept apart from real cases.
    Column("kind", String(16), nullable=False, server_default="case"),
    Column("scenario_id", String(40)),
    Column("anxiety_measure", String(40), nullable=False, server_default="gad7"),
    CheckConstraint("status IN ('active', 'archived')", name="status"),
    CheckConstraint("kind IN ('case', 'attempt')", name="kind"),
)

answers = Table(
    "answers",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(16), primary_key=True),
    Column("item_id", String(40), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("section IN ('preferences', 'social', 'alliance')", name="section"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    # A copy of the payload's date, so the case list can find the latest session in SQL.
    Column("date", Date, nullable=False),
    Column("payload", Text, nullable=False),
    # The overall fit when the session was saved, as the caller computed it.
    Column("fit", Float),
    Column("revision", Integer, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Append-only: the record of every change to a session once it was saved.
session_corrections = Table(
    "session_corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "case_id",
        Integer,
        ForeignKey("cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("old_payload", Text, nullable=False),
    Column("new_payload", Text),  # NULL when the session was removed
    Column("actor", String(80), nullable=False),
    Column("corrected_at", UtcDateTime, nullable=False),
)

attempt_grades = Table(
    "attempt_grades",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("mark", Float, nullable=False),
    Column("payload", Text, nullable=False),
    Column("graded_at", UtcDateTime, nullable=False),
)
