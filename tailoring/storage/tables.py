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
    ForeignKeyConstraint,
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
    # Indexed for the caseload's stamp: the latest change is then one step, not a pass (0008).
    Column("updated_at", UtcDateTime, nullable=False, index=True),
    # An attempt is a trainee's answer to a teaching scenario, kept apart from real cases.
    Column("kind", String(16), nullable=False, server_default="case"),
    Column("scenario_id", String(40)),
    Column("anxiety_measure", String(40), nullable=False, server_default="gad7"),
    Column("therapist", String(80), nullable=False, server_default="local user"),
    # The presenting problem and a second one (content/problems.yaml ids); NULL until recorded.
    Column("problem", String(40)),
    Column("second_problem", String(40)),
    # The patient chose low intensity after discussion although more severe (0015).
    Column("low_intensity_chosen", Boolean, nullable=False, server_default=false()),
    # How many sessions the case has and the date of the latest: copies the repository keeps with
    # every session it writes, so a caseload of many thousands of cases reads no session rows.
    Column("session_count", Integer, nullable=False, server_default="0"),
    Column("last_session", Date),
    # The referral and its ending (0013): a finished course is an ended referral.
    Column("referral_date", Date),
    Column("ending_date", Date),
    Column("ending_reason", String(16)),
    CheckConstraint("status IN ('active', 'archived')", name="status"),
    CheckConstraint(
        "ending_reason IN ('completed', 'dropped_out', 'declined', 'moved', 'stepped_up', "
        "'stepped_down', 'referred_on', 'other')",
        name="ending_reason",
    ),
    CheckConstraint("kind IN ('case', 'attempt')", name="kind"),
    # One therapist's caseload without reading everyone's cases.
    # With the protocol (0008): the caseload's filter options are read from this index alone.
    Index("ix_cases_kind_status_therapist_protocol", "kind", "status", "therapist", "protocol_id"),
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
    # Indexed for the caseload's stamp (0008): the latest is one step, and SQLite counts the
    # figures in this small index instead of passing over their wide rows.
    Column("computed_at", UtcDateTime, nullable=False, index=True),
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
    # Waits in days (revision 0013): None while not known.
    Column("wait_first_appointment", Integer),
    Column("wait_first_treatment", Integer),
    Column("wait_second_treatment", Integer),
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

# The people who may sign in when the app runs for a team (revision 0005). Accounts are disabled,
# never deleted, so the audit log and the cases keep naming someone who existed.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    # Lower-case letters, digits, dots, dashes and underscores, 3–40 long (checked in Python).
    Column("username", String(40), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    # The roles in a fixed order, comma-separated: "therapist,supervisor".
    Column("roles", String(64), nullable=False),
    # None for an account that signs in through single sign-on only.
    Column("password_hash", String(255)),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Who supervises whom: a supervisor reads the cases and attempts of their supervisees.
supervision_assignments = Table(
    "supervision_assignments",
    metadata,
    Column(
        "supervisor_id",
        Integer,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "supervisee_id",
        Integer,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("assigned_at", UtcDateTime, nullable=False),
    CheckConstraint("supervisor_id <> supervisee_id", name="not_self"),
)

# A sign-in kept across reloads and tabs in team mode (revision 0009): the browser holds a random
# token in a cookie; only its SHA-256 is stored, so a copy of the database signs no one in. A
# sign-in ends at sign-out, when the account is disabled, or after the idle time-out.
sign_ins = Table(
    "sign_ins",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(40), nullable=False, index=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
)

# Failed sign-ins and wrong patient codes, counted per bucket (revision 0011): a username typed at
# the sign-in form, whether or not it has an account, a client address, or all clients whose
# address is unknown. Only a SHA-256 of the bucket's name is kept. A row can be deleted from
# ``forget_at`` on, when its window and its lock are over (see tailoring/engine/throttle.py).
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("forget_at", UtcDateTime, nullable=False, index=True),
)

# Append-only (the database refuses updates and deletes): who viewed, created, changed, exported
# or deleted which case, who signed in, and what came in through patient links, when. No foreign
# key to cases: the entries about a case outlive it. ``detail`` is a fixed phrase, never free
# text or a patient identifier. Each entry holds the hash of the one before and its own hash
# (revision 0010, tailoring.storage.audit.entry_hash): two entries cannot follow the same one.
AUDIT_ACTIONS_CHECK = (
    "action IN ('viewed', 'created', 'changed', 'exported', 'deleted', 'login', "
    "'login_failed', 'account_changed', 'answered', 'code_refused')"
)
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(80), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("case_id", Integer),
    Column("case_reference", String(32), index=True),
    Column("detail", String(200), nullable=False),
    Column("previous_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
    CheckConstraint(AUDIT_ACTIONS_CHECK, name="action"),
)

# Questionnaires sent to the patient by one link (revision 0006): one case; the questionnaires it
# carries are in patient_link_questionnaires (revision 0014). Only a SHA-256 hash of the code is
# kept. The table keeps the name it was made with: it holds links, as its name says.
patient_links = Table(
    "patient_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "case_id",
        Integer,
        ForeignKey("cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("opened_at", UtcDateTime),  # the first time the patient opened it
    Column("completed_at", UtcDateTime),
    Column("seen_at", UtcDateTime),  # the last time the therapist looked at the answers
)

# The questionnaires a link carries (revision 0014), each set at most once, in the order the
# patient sees them; for the sets about a session, its number. ``done_at``: when the patient
# said that questionnaire was done (the link as a whole is finished by patient_links.completed_at).
patient_link_questionnaires = Table(
    "patient_link_questionnaires",
    metadata,
    Column(
        "link_id",
        Integer,
        ForeignKey("patient_links.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("set_id", String(24), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("session_number", Integer),
    Column("done_at", UtcDateTime),
    CheckConstraint("set_id IN ('preferences', 'before_session', 'after_session')", name="set_id"),
    CheckConstraint(
        "(set_id = 'preferences' AND session_number IS NULL) "
        "OR (set_id <> 'preferences' AND session_number >= 1)",
        name="session_number",
    ),
)

# The patient's answers through a link, one row per item, saved as they are given, each under
# the questionnaire of the link it was asked in (an item is asked once per link).
patient_answers = Table(
    "patient_answers",
    metadata,
    Column("link_id", Integer, primary_key=True),
    Column("item_key", String(100), primary_key=True),
    Column("set_id", String(24), nullable=False),
    Column("payload", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Counts the answer's saves: a save from a page that read an older one is refused.
    Column("revision", Integer, nullable=False, server_default="1"),
    ForeignKeyConstraint(
        ["link_id", "set_id"],
        ["patient_link_questionnaires.link_id", "patient_link_questionnaires.set_id"],
        ondelete="CASCADE",
    ),
)

# Append-only: what a clinician decided about each theme the coder suggested for a free-text
# answer. ``source`` names the text: "patient:<link id>:<item key>" or "therapist:<field>".
text_codes = Table(
    "text_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "case_id",
        Integer,
        ForeignKey("cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("source", String(160), nullable=False),
    Column("theme", String(24), nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: the words that suggested the theme
    Column("decision", String(8), nullable=False),
    Column("decided_by", String(80), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    CheckConstraint("decision IN ('accepted', 'rejected')", name="decision"),
)

# Which answers the fit of a case uses (revision 0007): one row per case that chose; a case
# without one uses the therapist's answers.
answer_sources = Table(
    "answer_sources",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(24), nullable=False),
    Column("chosen_by", String(80), nullable=False),
    Column("chosen_at", UtcDateTime, nullable=False),
    CheckConstraint("source IN ('patient', 'therapist', 'patient_where_present')", name="source"),
)
