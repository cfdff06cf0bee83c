"""Case review for supervision: flag decisions, supervision notes and the review PDF."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from tailoring import access
from tailoring.export.caseload import (
    notes_csv,
)
from tailoring.export.review_pdf import case_review_pdf
from tailoring.model.text import (
    SHORT_TEXT_CHARS,
    SUPERVISION_NOTE_CHARS,
)
from tailoring.model.text import checked as checked_text
from tailoring.services.cases import open_case
from tailoring.services.identifiers import check_identifiers
from tailoring.services.patient_answers import fit_with_source
from tailoring.services.shared import (
    audit,
    content,
    current_actor,
    current_user,
    guard,
    log_export,
    unit_of_work,
)
from tailoring.storage.supervision import (
    FlagDecision,
    FlagEvent,
    FlagEventKind,
    NoteStatus,
    NoteVersion,
    SupervisionNote,
)


def flag_history(case_id: int) -> list[FlagEvent]:
    """When each flag of the case was raised or cleared, and what people decided, oldest first."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        return uow.supervision.flag_history(case_id)


@dataclass(frozen=True)
class FlagStatus:
    """Where one flag of a case stands: as last raised, with its latest event."""

    flag_id: str
    title: str
    severity: str
    theme_title: str
    status: FlagEventKind
    raised_at: datetime
    latest: FlagEvent

    @property
    def open(self) -> bool:
        """The engine raises the flag now (it has not been cleared since it was last raised)."""
        return self.status != "cleared"


def flag_statuses(case_id: int) -> list[FlagStatus]:
    """Every flag ever raised on the case with its latest event: open flags first, high first."""
    titles: dict[str, str] = {t.id: t.title for t in content().themes}
    raised: dict[str, FlagEvent] = {}
    latest: dict[str, FlagEvent] = {}
    for event in flag_history(case_id):
        if event.event == "raised":
            raised[event.flag_id] = event
        latest[event.flag_id] = event
    rank = {"high": 0, "medium": 1, "low": 2}
    statuses = [
        FlagStatus(
            flag_id,
            first.title or flag_id,
            first.severity or "low",
            titles.get(first.theme or "", first.theme or "—"),
            latest[flag_id].event,
            first.at,
            latest[flag_id],
        )
        for flag_id, first in raised.items()
    ]
    return sorted(statuses, key=lambda s: (not s.open, rank.get(s.severity, 3), s.title))


def decide_flag(
    case_id: int,
    flag_id: str,
    decision: FlagDecision,
    reason: str,
    allow_identifiers: bool = False,
) -> FlagEvent:
    """Acknowledge, resolve or reopen a flag raised on the case, recording who, when and why.

    TextTooLong for a reason over SHORT_TEXT_CHARS; control characters are removed.
    """
    with unit_of_work() as uow:
        holder = guard("case.review", case_id)
        reason = checked_text(reason, SHORT_TEXT_CHARS, "reason")
        if not allow_identifiers:
            check_identifiers({"reason": reason})
        decided = uow.supervision.decide_flag(case_id, flag_id, decision, reason, current_user())
        audit("changed", holder, f"flag {decision}")
        return decided


def notes(case_id: int) -> list[SupervisionNote]:
    """The supervision notes of a case, oldest first."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        return uow.supervision.notes(case_id)


def add_note(
    case_id: int,
    text: str,
    action: str = "",
    status: NoteStatus = "open",
    allow_identifiers: bool = False,
) -> int:
    """Add a supervision note, with the action agreed (may be empty), by the current user.

    TextTooLong for a note or action over its limit; control characters are removed.
    """
    with unit_of_work() as uow:
        holder = guard("case.review", case_id)
        text, action = _note_texts(text, action)
        if not allow_identifiers:
            check_identifiers({"text": text, "action": action})
        note_id = uow.supervision.add_note(case_id, current_user(), text, action, status)
        audit("changed", holder, "supervision note added")
        return note_id


def _note_texts(text: str, action: str) -> tuple[str, str]:
    """A supervision note's text and action, cleaned, stripped and within their limits."""
    return (
        checked_text(text, SUPERVISION_NOTE_CHARS, "note").strip(),
        checked_text(action, SHORT_TEXT_CHARS, "action agreed").strip(),
    )


def edit_note(
    note_id: int,
    expected_version: int,
    text: str,
    action: str,
    status: NoteStatus,
    allow_identifiers: bool = False,
) -> int:
    """Change a note, keeping what it said before in its history; StaleNote if it moved on.

    TextTooLong for a note or action over its limit; control characters are removed.
    """
    with unit_of_work() as uow:
        holder = guard("case.review", uow.supervision.note_case(note_id))
        text, action = _note_texts(text, action)
        if not allow_identifiers:
            check_identifiers({"text": text, "action": action})
        version = uow.supervision.edit_note(
            note_id, current_user(), expected_version, text=text, action=action, status=status
        )
        audit("changed", holder, "supervision note edited")
        return version


def note_history(note_id: int) -> list[NoteVersion]:
    """What a note said before each edit, oldest first."""
    with unit_of_work() as uow:
        guard("case.view", uow.supervision.note_case(note_id))
        return uow.supervision.note_history(note_id)


def notes_export(case_id: int | None = None) -> str:
    """Supervision notes as CSV: one case's, or every case's (with reference and therapist)."""
    with unit_of_work() as uow:
        if case_id is None:
            owners = access.visible_owners(current_actor())
            rows = [
                _note_row(note, note.reference, note.therapist)
                for note in uow.supervision.all_notes()
                if owners is None or note.therapist in owners
            ]
            uow.record(current_user(), "exported", detail=f"notes of {len(rows)} cases")
        else:
            log_export("supervision notes CSV", case_id)
            stored = open_case(case_id)
            rows = [
                _note_row(note, stored.case.reference, stored.case.therapist)
                for note in uow.supervision.notes(case_id)
            ]
    return notes_csv(rows)


def _note_row(note: SupervisionNote, reference: str, therapist: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "therapist": therapist,
        "note": note.id,
        "version": note.version,
        "author": note.author,
        "created_at": note.created_at.isoformat(timespec="seconds"),
        "updated_at": note.updated_at.isoformat(timespec="seconds"),
        "status": note.status,
        "text": note.text,
        "action_agreed": note.action,
    }


def review_pdf(case_id: int, on: date | None = None) -> bytes:
    """The case review for supervision as PDF: report, outcomes, flag history and notes."""
    with unit_of_work() as uow:
        log_export("case review PDF", case_id)
        stored = open_case(case_id)
        report, _ = fit_with_source(case_id)
        notes = [asdict(note) for note in uow.supervision.notes(case_id)]
        events = [asdict(event) for event in uow.supervision.flag_history(case_id)]
    return case_review_pdf(report, notes, events, on or date.today(), stored.case.therapist)
