"""The database tables of cases and what is recorded about them (migrations make the schema)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
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
    Column("therapist", String(80), nullable=False, server_default="local user"),
    # How many sessions the case has and the date of the latest: copies the repository keeps with
    # every session it writes, so a caseload of many thousands of cases reads no session rows.
    Column("session_count", Integer, nullable=False, server_default="0"),
    Column("last_session", Date),
    CheckConstraint("status IN ('active', 'archived')", name="status"),
    CheckConstraint("kind IN ('case', 'attempt')", name="kind"),
    # One therapist's caseload without reading everyone's cases.
    Index("ix_cases_kind_status_therapist", "kind", "status", "therapist"),
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
    # A copy of the payload's date, so SQL can find the latest session.
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

# The caseload figures of each case, computed by the engine when the case changes and stored so a
# caseload of many thousands of cases is one query. Storage keeps what the caller computed.
case_metrics = Table(
    "case_metrics",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("fit", Float),
    Column("completeness", Float, nullable=False),
    Column("flags_high", Integer, nullable=False),
    Column("flags_medium", Integer, nullable=False),
    Column("flags_low", Integer, nullable=False),
    Column("alliance_latest", Float),
    Column("alliance_trend", String(16), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("sessions_attended", Integer, nullable=False),
    Column("dropped_after_first", Boolean, nullable=False),
    # JSON: [{"id", "severity", "theme", "theme_title", "title"}, ...] of the flags open when
    # computed (figures stored before 0004 lack the titles).
    Column("open_flag_ids", Text, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    # The figures the outcome rates need (revision 0004).
    Column("sessions_recorded", Integer, nullable=False, server_default="0"),
    Column("treatment_sessions_attended", Integer, nullable=False, server_default="0"),
    Column("caseness_at_start", Boolean),  # None while not known
    Column("finished", Boolean, nullable=False, server_default=false()),
    Column("recovery", Boolean, nullable=False, server_default=false()),
    Column("reliable_recovery", Boolean, nullable=False, server_default=false()),
    Column("reliable_improvement", Boolean, nullable=False, server_default=false()),
    Column("deterioration", Boolean, nullable=False, server_default=false()),
    Column("not_on_track", Boolean, nullable=False, server_default=false()),
    CheckConstraint("alliance_trend IN ('up', 'down', 'steady', 'none')", name="alliance_trend"),
)

# Append-only: when each flag of a case was raised or cleared by the engine, and what people
# decided about it.
flag_events = Table(
    "flag_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "case_id",
        Integer,
        ForeignKey("cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("flag_id", String(80), nullable=False),
    Column("event", String(16), nullable=False),
    Column("severity", String(8)),
    Column("theme", String(24)),
    Column("title", String(200)),
    Column("reason", Text),
    Column("actor", String(80), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    CheckConstraint(
        "event IN ('raised', 'cleared', 'acknowledged', 'resolved', 'reopened')", name="event"
    ),
)

supervision_notes = Table(
    "supervision_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "case_id",
        Integer,
        ForeignKey("cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("author", String(80), nullable=False),
    Column("text", Text, nullable=False),
    Column("action", Text, nullable=False),  # the action agreed in supervision; may be empty
    Column("status", String(8), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('open', 'done')", name="status"),
)

# Append-only: what a supervision note said before each edit, and who edited it when.
supervision_note_history = Table(
    "supervision_note_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "note_id",
        Integer,
        ForeignKey("supervision_notes.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("text", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("status", String(8), nullable=False),
    Column("editor", String(80), nullable=False),
    Column("edited_at", UtcDateTime, nullable=False),
)
