"""Sign-ins kept across reloads and tabs in team mode: the hash of each browser's token.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_ins",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index(op.f("ix_sign_ins_username"), "sign_ins", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_ins_username"), table_name="sign_ins")
    op.drop_table("sign_ins")
