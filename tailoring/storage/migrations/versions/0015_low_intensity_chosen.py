"""Whether the patient chose low intensity after discussion, although more severe (issue 15).

A low-intensity protocol is offered for more severe depression only when the patient chooses it
after discussion. Cases gain the record of that choice; existing cases have not recorded it
(false), so their severity flags are unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column(
                "low_intensity_chosen", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("low_intensity_chosen")
