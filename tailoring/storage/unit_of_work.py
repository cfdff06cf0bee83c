"""One transaction per use case: the repositories working in it, the audit entries it ends with.

A use case opens one unit of work; every repository it uses works in that unit's transaction.
The unit commits when its block ends and rolls back if the block raises, so a change, the
figures derived from it and its audit entry are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from tailoring.storage.accounts import AccountRepository
from tailoring.storage.audit import AuditAction, AuditLog, check_entry
from tailoring.storage.caseload import CaseloadRepository
from tailoring.storage.cases import CaseRepository
from tailoring.storage.db import transaction
from tailoring.storage.patient_questionnaires import PatientQuestionnaireRepository
from tailoring.storage.sessions import SessionRepository
from tailoring.storage.supervision import SupervisionRepository
from tailoring.storage.throttle import SignInAttempts

# actor, action, case id, case reference, detail
Entry = tuple[str, AuditAction, int | None, str | None, str]


class UnitOfWork:
    """The repositories of one transaction, and the audit entries it writes last."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.cases = CaseRepository(connection)
        self.sessions = SessionRepository(connection)
        self.caseload = CaseloadRepository(connection)
        self.supervision = SupervisionRepository(connection)
        self.patient_questionnaires = PatientQuestionnaireRepository(connection)
        self.accounts = AccountRepository(connection)
        self.sign_in_attempts = SignInAttempts(connection)
        # Reading and checking the log; entries are written through ``record``.
        self.audit = AuditLog(connection)
        self._entries: list[Entry] = []
        self._undo: list[Callable[[], object]] = []

    def record(
        self,
        actor: str,
        action: AuditAction,
        case_id: int | None = None,
        reference: str | None = None,
        detail: str = "",
    ) -> None:
        """Log an entry in the audit log as the unit commits, after every other write of it.

        So an entry is stored only with what it records, and the log's lock (which makes
        writers of the log take turns) is held only while the unit commits. ValueError at once
        for an entry the log would refuse.
        """
        check_entry(actor, action, reference, detail)
        self._entries.append((actor, action, case_id, reference, detail))

    def undo_on_rollback(self, undo: Callable[[], object]) -> None:
        """Call ``undo`` if the unit rolls back: for state kept outside the database."""
        self._undo.append(undo)

    def _write_entries(self) -> None:
        for entry in self._entries:
            self.audit.record(*entry)
        self._entries.clear()

    def _rolled_back(self) -> None:
        for undo in reversed(self._undo):
            undo()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[UnitOfWork]:
    """A unit of work on ``engine``: committed when the block ends, rolled back if it raises.

    A database outage surfaces as StorageUnavailable, with nothing changed.
    """
    unit: UnitOfWork | None = None
    try:
        with transaction(engine) as connection:
            unit = UnitOfWork(connection)
            yield unit
            unit._write_entries()
    except BaseException:
        if unit is not None:
            unit._rolled_back()
        raise
