"""Failed sign-ins and wrong patient codes counted in the database, for every username typed.

Counts kept with the accounts told real usernames from unknown ones (whose counts lived in one
process's memory, lost on a restart or a flood of names): all are now rows of
``sign_in_attempts``, keyed by a hash, and the accounts' own counters go.

Revision ID: 0011
Revises: 0009 (to be re-chained after 0010)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(op.f("ix_sign_in_attempts_forget_at"), "sign_in_attempts", ["forget_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    # The counts are not carried back: a lock in force is lifted, which a downgrade may do.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_index(op.f("ix_sign_in_attempts_forget_at"), table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
