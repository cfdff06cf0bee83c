"""The audit log's hash chain, and the actions of patient links (answers, refused codes).

Each entry gets ``previous_hash`` (the hash of the entry before it, zeros for the first) and
``hash`` (tailoring.storage.audit.entry_hash), computed here for the entries already there, in id
order. Two entries may not follow the same hash, so the chain cannot fork.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from tailoring.storage.audit import GENESIS, entry_hash

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"
OLD_ACTIONS = (
    "action IN ('viewed', 'created', 'changed', 'exported', 'deleted', 'login', "
    "'login_failed', 'account_changed')"
)
NEW_ACTIONS = (
    "action IN ('viewed', 'created', 'changed', 'exported', 'deleted', 'login', "
    "'login_failed', 'account_changed', 'answered', 'code_refused')"
)
# Rows rewritten per statement while the chain is computed.
BATCH = 5000

log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("case_id", sa.Integer()),
    sa.column("case_reference", sa.String()),
    sa.column("detail", sa.String()),
    sa.column("previous_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    _allow_updates()
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("previous_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(64), nullable=True))
    _chain_existing_entries()
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.alter_column("previous_hash", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_audit_log_previous_hash"), ["previous_hash"])
        batch_op.drop_constraint(op.f("ck_audit_log_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_log_action"), NEW_ACTIONS)
    _refuse_updates()


def downgrade() -> None:
    # Revision 0009 has no place for them, and an audit entry is never deleted.
    kept = op.get_bind().execute(
        sa.select(sa.func.count()).where(log.c.action.in_(["answered", "code_refused"]))
    )
    if kept.scalar():
        raise RuntimeError(
            "the audit log holds entries about patient links (answered, code_refused), which "
            "revision 0009 cannot hold: stay on revision 0010 or later"
        )
    _allow_updates()
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_log_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_log_action"), OLD_ACTIONS)
        batch_op.drop_constraint(op.f("uq_audit_log_previous_hash"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("previous_hash")
    _refuse_updates()


def _chain_existing_entries() -> None:
    """Hash the entries already there, oldest first, each onto the one before."""
    connection = op.get_bind()
    previous, after = GENESIS, 0
    while True:
        rows = connection.execute(
            sa.select(log).where(log.c.id > after).order_by(log.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        changes = []
        for row in rows:
            fields = dict(row._mapping, previous_hash=previous)
            # SQLite gives back the stored UTC time without its zone.
            fields["at"] = fields["at"].replace(tzinfo=fields["at"].tzinfo or UTC)
            previous = entry_hash(fields)
            changes.append({"row_id": row.id, "previous": fields["previous_hash"], "own": previous})
        connection.execute(
            log.update()
            .where(log.c.id == sa.bindparam("row_id"))
            .values(previous_hash=sa.bindparam("previous"), hash=sa.bindparam("own")),
            changes,
        )
        after = rows[-1].id


def _allow_updates() -> None:
    """Lift the append-only rule while this migration rewrites the log (it runs as the owner)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_log_no_{event}")


def _refuse_updates() -> None:
    """Put the append-only rule of revision 0005 back (SQLite: a rebuilt table lost its triggers)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_truncate")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{event.lower()}")
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
