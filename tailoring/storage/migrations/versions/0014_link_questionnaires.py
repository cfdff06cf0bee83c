"""One link carries several questionnaires: a patient's visit in one link (issue 17).

A link's set and session move to patient_link_questionnaires, one row per questionnaire it
carries, with when the patient said that questionnaire was done. Every existing link becomes a
link of one questionnaire: its set and session as they were, done when the link was completed.
Each answer names the questionnaire of its link it was given in (the link's one set so far).

Downgrading puts the set and session back on each link; it refuses, naming them, while any link
carries more than one questionnaire, which revision 0013's schema cannot hold.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SET_CHECK = "set_id IN ('preferences', 'before_session', 'after_session')"
SESSION_CHECK = (
    "(set_id = 'preferences' AND session_number IS NULL) "
    "OR (set_id <> 'preferences' AND session_number >= 1)"
)


def upgrade() -> None:
    op.create_table(
        "patient_link_questionnaires",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.String(24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(SET_CHECK, name=op.f("ck_patient_link_questionnaires_set_id")),
        sa.CheckConstraint(
            SESSION_CHECK, name=op.f("ck_patient_link_questionnaires_session_number")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["patient_links.id"],
            name=op.f("fk_patient_link_questionnaires_link_id_patient_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "set_id", name=op.f("pk_patient_link_questionnaires")),
    )
    op.execute(
        "INSERT INTO patient_link_questionnaires "
        "(link_id, set_id, position, session_number, done_at) "
        "SELECT id, set_id, 0, session_number, completed_at FROM patient_links"
    )
    with op.batch_alter_table("patient_answers") as batch_op:
        batch_op.add_column(sa.Column("set_id", sa.String(24), nullable=True))
    op.execute(
        "UPDATE patient_answers SET set_id = "
        "(SELECT set_id FROM patient_links WHERE patient_links.id = patient_answers.link_id)"
    )
    with op.batch_alter_table("patient_answers") as batch_op:
        batch_op.alter_column("set_id", existing_type=sa.String(24), nullable=False)
        batch_op.drop_constraint(
            op.f("fk_patient_answers_link_id_patient_links"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            op.f("fk_patient_answers_link_id_patient_link_questionnaires"),
            "patient_link_questionnaires",
            ["link_id", "set_id"],
            ["link_id", "set_id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("patient_links") as batch_op:
        batch_op.drop_constraint(op.f("ck_patient_links_session_number"), type_="check")
        batch_op.drop_constraint(op.f("ck_patient_links_set_id"), type_="check")
        batch_op.drop_column("session_number")
        batch_op.drop_column("set_id")


def downgrade() -> None:
    connection = op.get_bind()
    several = connection.execute(
        sa.text(
            "SELECT link_id FROM patient_link_questionnaires "
            "GROUP BY link_id HAVING COUNT(*) > 1 ORDER BY link_id"
        )
    ).scalars()
    carried = list(several)
    if carried:
        raise RuntimeError(
            f"patient links {carried} carry more than one questionnaire, which revision 0013 "
            "cannot hold: stay at revision 0014"
        )
    with op.batch_alter_table("patient_links") as batch_op:
        batch_op.add_column(sa.Column("set_id", sa.String(24), nullable=True))
        batch_op.add_column(sa.Column("session_number", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE patient_links SET "
        "set_id = (SELECT q.set_id FROM patient_link_questionnaires q "
        "WHERE q.link_id = patient_links.id), "
        "session_number = (SELECT q.session_number FROM patient_link_questionnaires q "
        "WHERE q.link_id = patient_links.id)"
    )
    with op.batch_alter_table("patient_links") as batch_op:
        batch_op.alter_column("set_id", existing_type=sa.String(24), nullable=False)
        batch_op.create_check_constraint(op.f("ck_patient_links_set_id"), SET_CHECK)
        batch_op.create_check_constraint(op.f("ck_patient_links_session_number"), SESSION_CHECK)
    with op.batch_alter_table("patient_answers") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_patient_answers_link_id_patient_link_questionnaires"), type_="foreignkey"
        )
        batch_op.drop_column("set_id")
        batch_op.create_foreign_key(
            op.f("fk_patient_answers_link_id_patient_links"),
            "patient_links",
            ["link_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.drop_table("patient_link_questionnaires")
