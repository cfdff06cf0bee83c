"""Sessions with their corrections, the anxiety measure, and attempts with their grades.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="case")
        )
        batch_op.add_column(sa.Column("scenario_id", sa.String(40), nullable=True))
        batch_op.add_column(
            sa.Column("anxiety_measure", sa.String(40), nullable=False, server_default="gad7")
        )
        batch_op.create_check_constraint(op.f("ck_cases_kind"), "kind IN ('case', 'attempt')")
    op.create_table(
        "sessions",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fit", sa.Float(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_sessions_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "number", name=op.f("pk_sessions")),
    )
    op.create_table(
        "session_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("old_payload", sa.Text(), nullable=False),
        sa.Column("new_payload", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_session_corrections_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_corrections")),
    )
    op.create_index(
        op.f("ix_session_corrections_case_id"), "session_corrections", ["case_id"], unique=False
    )
    op.create_table(
        "attempt_grades",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.Float(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_attempt_grades_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_attempt_grades")),
    )


def downgrade() -> None:
    op.drop_table("attempt_grades")
    op.drop_index(op.f("ix_session_corrections_case_id"), table_name="session_corrections")
    op.drop_table("session_corrections")
    op.drop_table("sessions")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_constraint(op.f("ck_cases_kind"), type_="check")
        batch_op.drop_column("anxiety_measure")
        batch_op.drop_column("scenario_id")
        batch_op.drop_column("kind")
