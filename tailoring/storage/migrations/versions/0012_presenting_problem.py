"""The presenting problem of a case, and a second one: problem descriptor ids, NULL until recorded.

Revision ID: 0012
Revises: 0009 (another branch adds 0010 and 0011; the lead re-chains this one after them)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("problem", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("second_problem", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("second_problem")
        batch_op.drop_column("problem")
