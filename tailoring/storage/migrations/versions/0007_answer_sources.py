"""Which answers the fit of a case uses: therapist's, patient's, or patient's where given.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_sources",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("chosen_by", sa.String(80), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('patient', 'therapist', 'patient_where_present')",
            name=op.f("ck_answer_sources_source"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_answer_sources_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_answer_sources")),
    )


def downgrade() -> None:
    op.drop_table("answer_sources")
