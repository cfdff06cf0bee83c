"""A revision for each patient answer, so that a save from a page behind another is refused.

One patient with the same link open twice (a second tab, a phone and a laptop) could save, from
the page that still showed an older answer, that older answer over the newer one (issue 13).
Each answer now counts its saves like a clinician's answers do; existing answers start at 1.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_answers") as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("patient_answers") as batch_op:
        batch_op.drop_column("revision")
