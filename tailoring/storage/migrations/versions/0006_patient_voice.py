"""Questionnaires sent to patients by link, their answers, and decisions about coded free text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.String(24), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "set_id IN ('preferences', 'before_session', 'after_session')",
            name=op.f("ck_patient_links_set_id"),
        ),
        sa.CheckConstraint(
            "(set_id = 'preferences' AND session_number IS NULL) "
            "OR (set_id <> 'preferences' AND session_number >= 1)",
            name=op.f("ck_patient_links_session_number"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_patient_links_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_patient_links_token_hash")),
    )
    op.create_index(op.f("ix_patient_links_case_id"), "patient_links", ["case_id"], unique=False)
    op.create_table(
        "patient_answers",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["patient_links.id"],
            name=op.f("fk_patient_answers_link_id_patient_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "item_key", name=op.f("pk_patient_answers")),
    )
    op.create_table(
        "text_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(160), nullable=False),
        sa.Column("theme", sa.String(24), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('accepted', 'rejected')", name=op.f("ck_text_codes_decision")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_text_codes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_codes")),
    )
    op.create_index(op.f("ix_text_codes_case_id"), "text_codes", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_text_codes_case_id"), table_name="text_codes")
    op.drop_table("text_codes")
    op.drop_table("patient_answers")
    op.drop_index(op.f("ix_patient_links_case_id"), table_name="patient_links")
    op.drop_table("patient_links")
