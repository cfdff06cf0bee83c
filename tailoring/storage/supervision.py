"""Supervision in SQL: each flag's history and decisions, and supervision notes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Row,
    insert,
    select,
    update,
)

from tailoring.model.report import SEVERITIES, Severity
from tailoring.storage.common import (
    ACTOR_LENGTH,
    THEME_LENGTH,
    TITLE_LENGTH,
    check_choice,
    check_id,
    lock_case,
    require_case,
    utc_now,
)
from tailoring.storage.errors import (
    NoteNotFound,
    StaleNote,
)
from tailoring.storage.tables import (
    cases,
    flag_events,
    supervision_note_history,
    supervision_notes,
)

# What happens to a flag: the engine raises and clears it, people decide about it.
FlagEventKind = Literal["raised", "cleared", "acknowledged", "resolved", "reopened"]

FlagDecision = Literal["acknowledged", "resolved", "reopened"]


FLAG_DECISIONS: tuple[FlagDecision, ...] = ("acknowledged", "resolved", "reopened")

# The columns of flag_events after case_id, in the order of FlagEvent's fields.
FLAG_EVENT_FIELDS = ("flag_id", "event", "severity", "theme", "title", "reason", "actor", "at")

NoteStatus = Literal["open", "done"]


NOTE_STATUSES: tuple[NoteStatus, ...] = ("open", "done")


@dataclass(frozen=True)
class FlagState:
    """A flag the engine raises now, as ``sync_flags`` records it."""

    id: str
    severity: Severity
    theme: str
    title: str

    def __post_init__(self) -> None:
        check_id("flag id", self.id, ACTOR_LENGTH)
        check_choice("severity", self.severity, SEVERITIES)
        check_id("theme", self.theme, THEME_LENGTH)
        check_id("title", self.title, TITLE_LENGTH)


@dataclass(frozen=True)
class FlagEvent:
    """One event in a flag's history; severity, theme and title are as the flag was raised."""

    flag_id: str
    event: FlagEventKind
    severity: Severity | None
    theme: str | None
    title: str | None
    reason: str | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class SupervisionNote:
    """A note from supervision about a case, with the action agreed (may be empty)."""

    id: int
    case_id: int
    author: str
    text: str
    action: str
    status: NoteStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CaseloadNote(SupervisionNote):
    """A supervision note with the reference and therapist of its case, for the notes export."""

    reference: str
    therapist: str


@dataclass(frozen=True)
class NoteVersion:
    """What a note said before ``editor`` changed it at ``edited_at``."""

    note_id: int
    text: str
    action: str
    status: NoteStatus
    editor: str
    edited_at: datetime


def _lock_note(connection: Connection, note_id: int) -> Row[Any]:
    """Lock a supervision note until commit and return it as stored (NoteNotFound if none)."""
    n = supervision_notes.c
    note = connection.execute(
        update(supervision_notes)
        .where(n.id == note_id)
        .values(version=n.version)
        .returning(n.text, n.action, n.status, n.version)
    ).one_or_none()
    if note is None:
        raise NoteNotFound()
    return note


def _flag_history(connection: Connection, case_id: int) -> list[FlagEvent]:
    """Every flag event of the case in the order recorded, whatever the clocks said."""
    f = flag_events.c
    rows = connection.execute(
        select(f.flag_id, f.event, f.severity, f.theme, f.title, f.reason, f.actor, f.at)
        .where(f.case_id == case_id)
        .order_by(f.id)
    )
    return [FlagEvent(*row) for row in rows]


def check_flag_states(current: Sequence[FlagState]) -> None:
    """Refuse flags that are not FlagState values, or a flag listed twice."""
    if not all(isinstance(flag, FlagState) for flag in current):
        raise ValueError("current must hold FlagState values")
    repeated = [flag_id for flag_id, n in Counter(f.id for f in current).items() if n > 1]
    if repeated:
        raise ValueError(f"flag {repeated[0]!r} is listed more than once")


def flag_changes(
    history: list[FlagEvent], current: Sequence[FlagState], actor: str, at: datetime
) -> list[FlagEvent]:
    """The events that bring ``history`` to the flags of ``current``: raise what is not open,
    clear what is open and no longer raised."""
    opened = _flags_open(history)
    last_raised = _last_raised(history)
    ids = {flag.id for flag in current}
    added = [
        FlagEvent(flag.id, "raised", flag.severity, flag.theme, flag.title, None, actor, at)
        for flag in current
        if flag.id not in opened
    ]
    added += [
        _event_about(last_raised[flag_id], "cleared", None, actor, at)
        for flag_id in opened
        if flag_id not in ids
    ]
    return added


def _flags_open(history: list[FlagEvent]) -> list[str]:
    """Ids of the flags open at the end of ``history``, in the order they were opened."""
    opened: dict[str, None] = {}
    for event in history:
        if event.event in ("raised", "reopened"):
            opened[event.flag_id] = None
        elif event.event == "cleared":
            opened.pop(event.flag_id, None)
    return list(opened)


def _last_raised(history: list[FlagEvent]) -> dict[str, FlagEvent]:
    """The latest ``raised`` event of each flag in ``history``."""
    return {event.flag_id: event for event in history if event.event == "raised"}


def _event_about(
    raised: FlagEvent, event: FlagEventKind, reason: str | None, actor: str, at: datetime
) -> FlagEvent:
    """An event about a raised flag, naming the flag as it was raised."""
    return FlagEvent(
        raised.flag_id, event, raised.severity, raised.theme, raised.title, reason, actor, at
    )


def _append_flag_events(connection: Connection, case_id: int, events: list[FlagEvent]) -> None:
    """Append flag events to the case's history; they are never changed or removed."""
    if events:
        connection.execute(
            insert(flag_events).values(case_id=case_id), [asdict(event) for event in events]
        )


def _check_note_text(text: str) -> None:
    """Refuse a supervision note without text."""
    if not text.strip():
        raise ValueError("a supervision note needs some text")


class SupervisionRepository:
    """Flag histories, decisions about flags, and supervision notes, in the transaction of
    ``connection``.

    Writes lock the case (or the note) until commit without bumping the case's version.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def decide_flag(
        self, case_id: int, flag_id: str, event: FlagDecision, reason: str, actor: str
    ) -> FlagEvent:
        """Record a decision about a flag raised on the case, and return it.

        A reason is required to acknowledge or resolve a flag, optional to reopen one.
        ValueError for any other event, a missing reason, or a flag never raised on the case.
        """
        check_choice("event", event, FLAG_DECISIONS)
        reason = reason.strip()
        if not reason and event != "reopened":
            raise ValueError(f"a reason is required to mark a flag {event}")
        check_id("actor", actor, ACTOR_LENGTH)
        lock_case(self._connection, case_id)
        raised = _last_raised(_flag_history(self._connection, case_id)).get(flag_id)
        if raised is None:
            raise ValueError(
                f"flag {flag_id!r} was never raised on this case, so it cannot be {event}"
            )
        decided = _event_about(raised, event, reason or None, actor, utc_now())
        _append_flag_events(self._connection, case_id, [decided])
        return decided

    def flag_history(self, case_id: int) -> list[FlagEvent]:
        """Every event of every flag of the case, oldest first."""
        require_case(self._connection, case_id)
        return _flag_history(self._connection, case_id)

    def add_note(
        self, case_id: int, author: str, text: str, action: str, status: NoteStatus = "open"
    ) -> int:
        """Add a supervision note (version 1) to the case and return its id.

        ``action`` is the action agreed in supervision, empty when none was.
        """
        check_id("author", author, ACTOR_LENGTH)
        _check_note_text(text)
        check_choice("status", status, NOTE_STATUSES)
        now = utc_now()
        values = {"author": author, "text": text, "action": action, "status": status}
        lock_case(self._connection, case_id)
        note_id: int = self._connection.execute(
            insert(supervision_notes)
            .values(case_id=case_id, version=1, created_at=now, updated_at=now, **values)
            .returning(supervision_notes.c.id)
        ).scalar_one()
        return note_id

    def edit_note(
        self,
        note_id: int,
        editor: str,
        expected_version: int,
        *,
        text: str | None = None,
        action: str | None = None,
        status: NoteStatus | None = None,
    ) -> int:
        """Change a note's text, action or status; return its version (new if anything changed).

        The old text, action and status are kept in the note's history with ``editor`` and the
        time. StaleNote if the note is no longer at ``expected_version``.
        """
        changes = {
            name: value
            for name, value in (("text", text), ("action", action), ("status", status))
            if value is not None
        }
        check_id("editor", editor, ACTOR_LENGTH)
        if text is not None:
            _check_note_text(text)
        if status is not None:
            check_choice("status", status, NOTE_STATUSES)
        n = supervision_notes.c
        note = _lock_note(self._connection, note_id)
        if note.version != expected_version:
            raise StaleNote(note.version)
        if all(note._mapping[name] == value for name, value in changes.items()):
            return note.version
        now = utc_now()
        self._connection.execute(
            insert(supervision_note_history).values(
                note_id=note_id,
                text=note.text,
                action=note.action,
                status=note.status,
                editor=editor,
                edited_at=now,
            )
        )
        self._connection.execute(
            update(supervision_notes)
            .where(n.id == note_id)
            .values(version=n.version + 1, updated_at=now, **changes)
        )
        return note.version + 1

    def notes(self, case_id: int) -> list[SupervisionNote]:
        """The supervision notes of a case, oldest first."""
        require_case(self._connection, case_id)
        rows = self._connection.execute(
            select(supervision_notes)
            .where(supervision_notes.c.case_id == case_id)
            .order_by(supervision_notes.c.id)
        )
        return [SupervisionNote(**row._mapping) for row in rows]

    def note_case(self, note_id: int) -> int:
        """The id of the case a supervision note is about; NoteNotFound if there is none."""
        query = select(supervision_notes.c.case_id).where(supervision_notes.c.id == note_id)
        case_id = self._connection.execute(query).scalar()
        if case_id is None:
            raise NoteNotFound()
        return int(case_id)

    def note_history(self, note_id: int) -> list[NoteVersion]:
        """What the note said before each of its edits, oldest first."""
        h = supervision_note_history.c
        exists = select(supervision_notes.c.id).where(supervision_notes.c.id == note_id)
        if self._connection.execute(exists).first() is None:
            raise NoteNotFound()
        rows = self._connection.execute(
            select(h.note_id, h.text, h.action, h.status, h.editor, h.edited_at)
            .where(h.note_id == note_id)
            .order_by(h.id)
        )
        return [NoteVersion(**row._mapping) for row in rows]

    def all_notes(self, therapist: str | None = None) -> list[CaseloadNote]:
        """Every supervision note on cases, archived ones included, or those of ``therapist``.

        With each case's reference and therapist, ordered by therapist, reference and note.
        """
        query = (
            select(supervision_notes, cases.c.reference, cases.c.therapist)
            .join(cases)
            .where(cases.c.kind == "case")
            .order_by(cases.c.therapist, cases.c.reference, supervision_notes.c.id)
        )
        if therapist is not None:
            query = query.where(cases.c.therapist == therapist)
        return [CaseloadNote(**row._mapping) for row in self._connection.execute(query)]
