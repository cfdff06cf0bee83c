"""Referrals, their endings and waits: a finished course is a referral that has ended (issue 16).

Cases gain the referral date and the ending (date and reason). Existing cases have neither:
they stay open, so none of them is a finished course until an ending is recorded, and their
stored figures say so at once (every other stored figure is unchanged by the new rule). The
figures gain the waits in days, unknown (NULL) until the engine computes them again.

Revision ID: 0013
Revises: 0011 (to be re-chained after 0012)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WAITS = ("wait_first_appointment", "wait_first_treatment", "wait_second_treatment")
ENDING_REASONS = (
    "'completed', 'dropped_out', 'declined', 'moved', 'stepped_up', 'stepped_down', "
    "'referred_on', 'other'"
)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("referral_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ending_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ending_reason", sa.String(16), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_cases_ending_reason"), f"ending_reason IN ({ENDING_REASONS})"
        )
    with op.batch_alter_table("case_metrics") as batch_op:
        for name in WAITS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE case_metrics SET finished = :no").bindparams(no=False))


def downgrade() -> None:
    with op.batch_alter_table("case_metrics") as batch_op:
        for name in reversed(WAITS):
            batch_op.drop_column(name)
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_constraint(op.f("ck_cases_ending_reason"), type_="check")
        batch_op.drop_column("ending_reason")
        batch_op.drop_column("ending_date")
        batch_op.drop_column("referral_date")
    # Back to the old rule: two attended treatment sessions, ended or not (rules.yaml's default).
    op.execute(
        sa.text("UPDATE case_metrics SET finished = (treatment_sessions_attended >= 2)")
    )
