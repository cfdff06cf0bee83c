"""The audit log: who viewed, created, changed, exported or deleted which case; who signed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy import Engine, insert, select

from tailoring.storage.db import transaction
from tailoring.storage.tables import audit_log

AuditAction = Literal[
    "viewed",
    "created",
    "changed",
    "exported",
    "deleted",
    "login",
    "login_failed",
    "account_changed",
]
AUDIT_ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)
ACTOR_LENGTH = 80
REFERENCE_LENGTH = 32
DETAIL_LENGTH = 200
# A detail is a fixed phrase such as "session 3" or "roles: therapist,supervisor". Refusing the
# characters of emails, phone numbers and dates as people write them ("@", "+", "/") keeps the
# commonest identifiers out even when a caller passes text it should not.
DETAIL_PATTERN = re.compile(r"[A-Za-z0-9 .,:;=()_-]*")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log; ``case_id`` and ``case_reference`` are None when not about a case.

    The case may have been deleted since: the entry keeps its id and reference.
    """

    id: int
    at: datetime
    actor: str
    action: AuditAction
    case_id: int | None
    case_reference: str | None
    detail: str


def _now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """An append-only audit log in the SQL database.

    There is no way to change or remove an entry here, and the database refuses it too (the
    migration adds triggers), so the app cannot edit the log.
    """

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _now) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        actor: str,
        action: AuditAction,
        case_id: int | None = None,
        reference: str | None = None,
        detail: str = "",
    ) -> AuditEntry:
        """Append an entry stamped with the current time and return it.

        ``detail`` is a short fixed phrase, never free text or a patient identifier: ValueError
        for one over 200 characters or with characters outside letters, digits, spaces and
        ``.,:;=()_-``; also for an unknown action, an empty actor or an over-long reference.
        """
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(AUDIT_ACTIONS)}, not {action!r}")
        if not 1 <= len(actor) <= ACTOR_LENGTH:
            raise ValueError(f"actor must be 1–{ACTOR_LENGTH} characters long")
        if reference is not None and not 1 <= len(reference) <= REFERENCE_LENGTH:
            raise ValueError(f"reference must be 1–{REFERENCE_LENGTH} characters long")
        if len(detail) > DETAIL_LENGTH or not DETAIL_PATTERN.fullmatch(detail):
            raise ValueError(
                f"an audit detail is a fixed phrase of at most {DETAIL_LENGTH} letters, digits, "
                "spaces and .,:;=()_- (never free text or an identifier)"
            )
        values = {
            "at": self._clock(),
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "case_reference": reference,
            "detail": detail,
        }
        with transaction(self._engine) as connection:
            added = connection.execute(insert(audit_log).values(values))
        entry_id: int = added.inserted_primary_key[0]
        return AuditEntry(id=entry_id, **values)

    def entries(
        self,
        actor: str | None = None,
        action: AuditAction | None = None,
        case_reference: str | None = None,
        case_ids: Collection[int] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 1000,
    ) -> list[AuditEntry]:
        """The entries that match every filter given, newest first, at most ``limit`` (None: all).

        ``since`` is inclusive and ``until`` exclusive. ``case_ids`` keeps only entries about
        those cases: how a supervisor is shown the entries about the cases they may read.
        """
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1, or None for every entry")
        log = audit_log.c
        query = select(audit_log).order_by(log.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(log.actor == actor)
        if action is not None:
            query = query.where(log.action == action)
        if case_reference is not None:
            query = query.where(log.case_reference == case_reference)
        if case_ids is not None:
            query = query.where(log.case_id.in_(list(case_ids)))
        if since is not None:
            query = query.where(log.at >= since)
        if until is not None:
            query = query.where(log.at < until)
        with transaction(self._engine) as connection:
            return [AuditEntry(**row._mapping) for row in connection.execute(query)]
