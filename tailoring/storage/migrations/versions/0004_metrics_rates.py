"""The caseload figures the outcome rates need: session counts, caseness and outcome flags.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The yes/no outcomes of a case; figures stored before this revision say no until recomputed.
OUTCOME_FLAGS = (
    "finished",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
)


def upgrade() -> None:
    # Stored figures get zero counts, an unknown caseness and no outcomes until the engine
    # recomputes them. On SQLite adding a column needs no copy of the table; env.py keeps
    # foreign keys off all the same, as for every migration.
    with op.batch_alter_table("case_metrics") as batch_op:
        batch_op.add_column(
            sa.Column("sessions_recorded", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "treatment_sessions_attended", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(sa.Column("caseness_at_start", sa.Boolean(), nullable=True))
        for name in OUTCOME_FLAGS:
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    with op.batch_alter_table("case_metrics") as batch_op:
        for name in reversed(OUTCOME_FLAGS):
            batch_op.drop_column(name)
        batch_op.drop_column("caseness_at_start")
        batch_op.drop_column("treatment_sessions_attended")
        batch_op.drop_column("sessions_recorded")
