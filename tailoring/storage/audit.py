"""The audit log: who viewed, created, changed, exported or deleted which case; who signed in;
what came in through patient links. Each entry is chained to the one before by a hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, insert, select, text

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
    "answered",
    "code_refused",
]
AUDIT_ACTIONS: tuple[AuditAction, ...] = get_args(AuditAction)
ACTOR_LENGTH = 80
REFERENCE_LENGTH = 32
DETAIL_LENGTH = 200
# A detail is a fixed phrase such as "session 3" or "roles: therapist,supervisor". Refusing the
# characters of emails, phone numbers and dates as people write them ("@", "+", "/") keeps the
# commonest identifiers out even when a caller passes text it should not.
DETAIL_PATTERN = re.compile(r"[A-Za-z0-9 .,:;=()_-]*")

# The hash chain (docs/team-mode.md, "Tamper evidence"). The first entry follows GENESIS.
GENESIS = "0" * 64
HASHED_FIELDS = ("previous_hash", "at", "actor", "action", "case_id", "case_reference", "detail")
# Any fixed number: every writer of the log takes this PostgreSQL advisory lock first.
CHAIN_LOCK = 0x7A11_0A0D
# Entries read at a time when checking the chain, so a long log needs little memory.
CHECK_BATCH = 5000


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
    previous_hash: str
    hash: str


def entry_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 (hex) of an entry's HASHED_FIELDS: the previous entry's hash and its own.

    Canonical form: a JSON object of exactly those keys, sorted, without spaces, non-ASCII escaped;
    ``at`` as ISO 8601 in UTC with microseconds (``2026-12-09T09:00:00.000000+00:00``), an absent
    case as null. The id is not hashed: PostgreSQL may skip ids, and order is in the chain itself.
    """
    canonical = {name: fields[name] for name in HASHED_FIELDS}
    canonical["at"] = fields["at"].astimezone(UTC).isoformat(timespec="microseconds")
    serialised = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(serialised.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What checking the chain found: the first broken link, if any, and the end of the log.

    ``entries`` counts the entries checked (all of them when nothing is broken). ``last_id`` and
    ``last_hash`` name the last entry (None and GENESIS for an empty log): kept somewhere the
    database's users cannot change, they let a later check find a deleted end of the log, which
    the chain alone cannot show.
    """

    entries: int
    last_id: int | None
    last_hash: str
    broken_id: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def _now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """An append-only audit log in the SQL database, each entry chained to the one before.

    There is no way to change or remove an entry here, and the database refuses it too (the
    migration adds triggers), so the app cannot edit the log. Whoever owns the tables can drop
    the triggers; the chain then shows what they changed (see :meth:`check`).
    """

    def __init__(self, connection: Connection, clock: Callable[[], datetime] = _now) -> None:
        self._connection = connection
        self._clock = clock

    def record(
        self,
        actor: str,
        action: AuditAction,
        case_id: int | None = None,
        reference: str | None = None,
        detail: str = "",
    ) -> AuditEntry:
        """Append an entry stamped with the current time, in this transaction, and return it.

        The entry holds the log's lock until the transaction ends (see ``_lock_chain``): write
        it as the last thing a transaction does. ValueError as ``check_entry`` says.
        """
        check_entry(actor, action, reference, detail)
        values: dict[str, Any] = {
            "at": self._clock(),
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "case_reference": reference,
            "detail": detail,
        }
        _lock_chain(self._connection)
        last = select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
        values["previous_hash"] = self._connection.execute(last).scalar() or GENESIS
        values["hash"] = entry_hash(values)
        entry_id: int = self._connection.execute(
            insert(audit_log).values(values).returning(audit_log.c.id)
        ).scalar_one()
        return AuditEntry(id=entry_id, **values)

    def check(self, expected: tuple[int, str] | None = None) -> ChainCheck:
        """Walk the chain in id order and report the first entry that breaks it.

        An entry breaks it when its fields no longer give its hash (it was changed), or when its
        previous hash is not the hash of the entry before it (an entry between them was deleted,
        or the one before was rewritten). ``expected`` is an (id, hash) recorded from an earlier
        check: the entry must still be there with that hash, else the log lost its end or was
        rewritten up to it.
        """
        wanted = None if expected is None else expected[0]
        count, last_id, last_hash, seen = 0, None, GENESIS, False
        for entry in _in_order(self._connection):
            problem = _link_problem(entry, last_id, last_hash) or _recorded_problem(entry, expected)
            if problem:
                return ChainCheck(count, last_id, last_hash, entry.id, problem)
            count, last_id, last_hash = count + 1, entry.id, entry.hash
            seen = seen or entry.id == wanted
        if wanted is not None and not seen:
            return ChainCheck(count, last_id, last_hash, wanted, _gone(wanted, last_id))
        return ChainCheck(count, last_id, last_hash)

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
        return [AuditEntry(**row._mapping) for row in self._connection.execute(query)]


def check_entry(actor: str, action: AuditAction, reference: str | None, detail: str) -> None:
    """ValueError unless these make an entry the log accepts.

    ``detail`` is a short fixed phrase, never free text or a patient identifier: refused if over
    200 characters or with characters outside letters, digits, spaces and ``.,:;=()_-``; so is
    an unknown action, an empty actor or an over-long reference.
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


def _lock_chain(connection: Connection) -> None:
    """Make this transaction the only writer of the log until it ends, so the chain cannot fork.

    SQLite: the database's write lock, held before the last hash is read. A transaction that
    has written already holds it (the driver begins one at the first write, and that write takes
    the lock); otherwise ``BEGIN IMMEDIATE`` takes it (the driver would begin only at the
    insert). PostgreSQL: a transaction-scoped advisory lock, which needs no privilege: the app's
    role may only insert into and read the log, and ``LOCK TABLE`` or ``SELECT ... FOR UPDATE``
    would need more. A writer that skipped the lock would still be refused: two entries cannot
    follow the same hash (unique constraint).
    """
    if connection.dialect.name == "sqlite":
        driver = connection.connection.dbapi_connection
        if not getattr(driver, "in_transaction", False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def _in_order(connection: Connection) -> Iterator[AuditEntry]:
    """Every entry in id order, read a batch at a time."""
    after = 0
    while True:
        query = (
            select(audit_log)
            .where(audit_log.c.id > after)
            .order_by(audit_log.c.id)
            .limit(CHECK_BATCH)
        )
        batch = [AuditEntry(**row._mapping) for row in connection.execute(query)]
        yield from batch
        if len(batch) < CHECK_BATCH:
            return
        after = batch[-1].id


def _recorded_problem(entry: AuditEntry, expected: tuple[int, str] | None) -> str | None:
    """Why ``entry`` is not as recorded in ``expected`` (None when it is, or is another entry)."""
    if expected is None or entry.id != expected[0] or entry.hash == expected[1]:
        return None
    return "its hash is not the one recorded for it: the log was rewritten up to it"


def _gone(entry_id: int, last_id: int | None) -> str:
    """Why an entry recorded earlier is not in an unbroken chain."""
    if last_id is None:
        return "the entry recorded earlier is gone and the log is empty: it was emptied"
    if last_id < entry_id:
        return (
            f"the entry recorded earlier is gone (the log ends at entry {last_id}): "
            "entries at the end were deleted"
        )
    return "the entry recorded earlier is gone: the log was rewritten without it"


def _link_problem(entry: AuditEntry, before_id: int | None, before_hash: str) -> str | None:
    """Why ``entry`` does not follow the entry before it (None when it does)."""
    if entry.previous_hash != before_hash:
        if before_id is None:
            return "it is not the first entry ever written: entries before it were deleted"
        return (
            f"its previous hash is not the hash of entry {before_id}: an entry between them "
            f"was deleted, or entry {before_id} was rewritten"
        )
    if entry_hash(vars(entry)) != entry.hash:
        return "its fields do not give its hash: it was changed after it was written"
    return None
