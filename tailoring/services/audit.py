"""Reading and exporting the audit log, as far as the current actor may."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tailoring import access
from tailoring.export.tables import csv_text
from tailoring.model.text import clean as clean_text
from tailoring.services.shared import current_actor, current_user, unit_of_work
from tailoring.storage.audit import AuditAction, AuditEntry


def audit_entries(
    actor: str | None = None,
    action: AuditAction | None = None,
    reference: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 1000,
) -> list[AuditEntry]:
    """The audit log, newest first, as far as the current actor may read it.

    The filters typed are cleaned of control characters first: PostgreSQL refuses a NUL in a
    query, which showed as "database cannot be used right now".
    """
    me = current_actor()
    access.require(me, "audit.view")
    owners = access.audit_owners(me)
    with unit_of_work() as uow:
        case_ids = None if owners is None else uow.cases.ids_of(owners)
        return uow.audit.entries(
            actor=clean_text(actor or "") or None,
            action=action,
            case_reference=clean_text(reference or "") or None,
            case_ids=case_ids,
            since=since,
            until=until,
            limit=limit,
        )


def audit_csv(entries: Sequence[AuditEntry]) -> str:
    """Audit entries as CSV; the export itself is logged."""
    access.require(current_actor(), "audit.export")
    with unit_of_work() as uow:
        uow.record(current_user(), "exported", detail=f"audit log ({len(entries)} entries)")
    return csv_text(
        [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "actor": e.actor,
                "action": e.action,
                "case_reference": e.case_reference or "",
                "detail": e.detail,
            }
            for e in entries
        ]
    )
