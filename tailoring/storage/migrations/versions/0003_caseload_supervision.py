"""The therapist of each case, its session count, caseload figures, flags and supervision notes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing cases get the model's default therapist. On SQLite adding a column needs no copy
    # of the table; env.py keeps foreign keys off all the same, as for every migration.
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("therapist", sa.String(80), nullable=False, server_default="local user")
        )
        batch_op.add_column(
            sa.Column("session_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_session", sa.Date(), nullable=True))
    # The session count and latest date of the cases stored so far; the repository keeps them
    # from now on.
    cases = sa.table(
        "cases", sa.column("id"), sa.column("session_count"), sa.column("last_session")
    )
    sessions = sa.table("sessions", sa.column("case_id"), sa.column("date"))
    of_case = sessions.c.case_id == cases.c.id
    op.execute(
        cases.update().values(
            session_count=sa.select(sa.func.count()).where(of_case).scalar_subquery(),
            last_session=sa.select(sa.func.max(sessions.c.date)).where(of_case).scalar_subquery(),
        )
    )
    op.create_index(
        op.f("ix_cases_kind_status_therapist"),
        "cases",
        ["kind", "status", "therapist"],
        unique=False,
    )
    op.create_table(
        "case_metrics",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("fit", sa.Float(), nullable=True),
        sa.Column("completeness", sa.Float(), nullable=False),
        sa.Column("flags_high", sa.Integer(), nullable=False),
        sa.Column("flags_medium", sa.Integer(), nullable=False),
        sa.Column("flags_low", sa.Integer(), nullable=False),
        sa.Column("alliance_latest", sa.Float(), nullable=True),
        sa.Column("alliance_trend", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("sessions_attended", sa.Integer(), nullable=False),
        sa.Column("dropped_after_first", sa.Boolean(), nullable=False),
        sa.Column("open_flag_ids", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "alliance_trend IN ('up', 'down', 'steady', 'none')",
            name=op.f("ck_case_metrics_alliance_trend"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_metrics_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_metrics")),
    )
    op.create_table(
        "flag_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.String(80), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=True),
        sa.Column("theme", sa.String(24), nullable=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event IN ('raised', 'cleared', 'acknowledged', 'resolved', 'reopened')",
            name=op.f("ck_flag_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_flag_events_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_events")),
    )
    op.create_index(op.f("ix_flag_events_case_id"), "flag_events", ["case_id"], unique=False)
    op.create_table(
        "supervision_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'done')", name=op.f("ck_supervision_notes_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_supervision_notes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notes")),
    )
    op.create_index(
        op.f("ix_supervision_notes_case_id"), "supervision_notes", ["case_id"], unique=False
    )
    op.create_table(
        "supervision_note_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("editor", sa.String(80), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["supervision_notes.id"],
            name=op.f("fk_supervision_note_history_note_id_supervision_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_note_history")),
    )
    op.create_index(
        op.f("ix_supervision_note_history_note_id"),
        "supervision_note_history",
        ["note_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_supervision_note_history_note_id"), table_name="supervision_note_history"
    )
    op.drop_table("supervision_note_history")
    op.drop_index(op.f("ix_supervision_notes_case_id"), table_name="supervision_notes")
    op.drop_table("supervision_notes")
    op.drop_index(op.f("ix_flag_events_case_id"), table_name="flag_events")
    op.drop_table("flag_events")
    op.drop_table("case_metrics")
    op.drop_index(op.f("ix_cases_kind_status_therapist"), table_name="cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("last_session")
        batch_op.drop_column("session_count")
        batch_op.drop_column("therapist")
