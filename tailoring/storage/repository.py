"""Cases and everything recorded about them in a SQL database: the only code that speaks SQL.

Every write to a case's own record (its fields, answers, sessions and grade) bumps the case's
``version`` first. That ``UPDATE`` locks the case until commit (a row lock on PostgreSQL, the
write lock on SQLite), so writers to one case take turns and a revision check made after it cannot
be overtaken by another writer. Writes about a case (its caseload figures, flag history and
supervision notes) take the same lock with an ``UPDATE`` that changes nothing: they are not edits
of the case, so the version an editor holds stays current.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, astuple, dataclass, field
from datetime import UTC, date, datetime
from itertools import islice, repeat
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Row,
    ScalarSelect,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from tailoring.model.case import (
    SECTIONS,
    AllianceAnswer,
    Answers,
    Case,
    PreferenceAnswer,
    Section,
    SocialAnswer,
    WalkStep,
)
from tailoring.model.caseload import AllianceTrend, CaseMetrics
from tailoring.model.grade import Grade
from tailoring.model.report import SEVERITIES, Severity
from tailoring.model.session import Session
from tailoring.storage.db import transaction
from tailoring.storage.errors import (
    CaseNotFound,
    NoteNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StaleNote,
    StaleSession,
)
from tailoring.storage.tables import (
    answers,
    attempt_grades,
    case_metrics,
    cases,
    flag_events,
    session_corrections,
    sessions,
    supervision_note_history,
    supervision_notes,
)

AnswerModel = PreferenceAnswer | SocialAnswer | AllianceAnswer
ANSWER_MODELS: dict[Section, type[AnswerModel]] = {
    "preferences": PreferenceAnswer,
    "social": SocialAnswer,
    "alliance": AllianceAnswer,
}
# A real case, or a trainee's attempt at a teaching scenario.
Kind = Literal["case", "attempt"]
KINDS: tuple[Kind, ...] = ("case", "attempt")
CASE_FIELDS = (
    "reference",
    "therapist",
    "protocol_id",
    "sessions_available",
    "step",
    "status",
    "anxiety_measure",
    "problem",
    "second_problem",
    "referral_date",
    "ending_date",
    "ending_reason",
)
# The case columns of a summary: no answers, sessions or anxiety measure.
SUMMARY_FIELDS = (
    "id",
    "reference",
    "therapist",
    "protocol_id",
    "sessions_available",
    "step",
    "status",
    "kind",
    "scenario_id",
    "version",
    "updated_at",
)
ATTEMPT_FIELDS = ("id", "reference", "scenario_id", "created_at", "updated_at", "therapist")
# The width of the id columns: protocol_id, item_id, anxiety_measure, scenario_id, the problems.
ID_LENGTH = 40
ACTOR_LENGTH = 80  # also the width of therapist, author, editor and flag_id
THEME_LENGTH = 24
TITLE_LENGTH = 200
# What happens to a flag: the engine raises and clears it, people decide about it.
FlagEventKind = Literal["raised", "cleared", "acknowledged", "resolved", "reopened"]
FlagDecision = Literal["acknowledged", "resolved", "reopened"]
FLAG_DECISIONS: tuple[FlagDecision, ...] = ("acknowledged", "resolved", "reopened")
# The columns of flag_events after case_id, in the order of FlagEvent's fields.
FLAG_EVENT_FIELDS = ("flag_id", "event", "severity", "theme", "title", "reason", "actor", "at")
NoteStatus = Literal["open", "done"]
NOTE_STATUSES: tuple[NoteStatus, ...] = ("open", "done")
# The columns of a caseload line, in the order of CaseloadRow and of caseload_frame's keys.
CASELOAD_CASE_FIELDS = (
    "id",
    "reference",
    "therapist",
    "protocol_id",
    "status",
    "sessions_available",
)
# The stored figures; open_flag_ids and computed_at stay last (``caseload`` relies on it).
METRICS_FIELDS = (
    "fit",
    "completeness",
    "flags_high",
    "flags_medium",
    "flags_low",
    "alliance_latest",
    "alliance_trend",
    "outcome",
    "sessions_recorded",
    "sessions_attended",
    "treatment_sessions_attended",
    "dropped_after_first",
    "caseness_at_start",
    "finished",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
    "wait_first_appointment",
    "wait_first_treatment",
    "wait_second_treatment",
    "open_flag_ids",
    "computed_at",
)
# The figures stored as the model's fields of the same name; the rest are derived from it.
MODEL_METRICS_FIELDS = tuple(
    name
    for name in METRICS_FIELDS
    if name not in ("flags_high", "flags_medium", "flags_low", "open_flag_ids", "computed_at")
)
CASELOAD_FIELDS = (*CASELOAD_CASE_FIELDS, "sessions", "last_session", "updated_at", *METRICS_FIELDS)
# The stored times of a caseload line, which ``caseload_columns`` does not offer.
TIMES = ("updated_at", "computed_at")
# Rows per statement when looking references or cases up by a list of them.
REFERENCE_BATCH = 500
# Rows per executemany in an import: enough to be fast, few enough to bound memory.
INSERT_BATCH = 10_000


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list: a case without its answers, with how many answers and sessions."""

    id: int
    reference: str
    therapist: str
    protocol_id: str
    sessions_available: int
    step: WalkStep
    status: str
    kind: Kind
    scenario_id: str | None
    version: int
    answered: int
    sessions: int
    last_session: date | None
    updated_at: datetime


@dataclass(frozen=True)
class StoredCase:
    """A stored case, with the version and revisions an editor passes back when saving."""

    id: int
    version: int
    case: Case
    revisions: dict[tuple[Section, str], int]
    updated_at: datetime
    kind: Kind
    scenario_id: str | None
    session_revisions: dict[int, int]
    session_fits: dict[int, float | None]


@dataclass(frozen=True)
class CaseOwner:
    """Who holds a case or attempt: what access rules and the audit log need of it."""

    id: int
    reference: str
    therapist: str
    kind: Kind


@dataclass(frozen=True)
class Correction:
    """One change to a saved session: what it was, what it became (None: removed), who, when."""

    number: int
    old: dict[str, Any]
    new: dict[str, Any] | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class AttemptSummary:
    """One line of the attempt list, with the mark when the attempt was graded."""

    id: int
    reference: str
    scenario_id: str | None
    created_at: datetime
    updated_at: datetime
    mark: float | None
    graded_at: datetime | None
    therapist: str = ""  # the trainee who made the attempt


@dataclass(frozen=True)
class CaseloadRow:
    """One line of the caseload: a case, its sessions, and its stored figures.

    The figures (``fit`` to ``computed_at``) are None until they are first computed. Figures
    computed before ``updated_at`` describe an earlier state of the case. ``open_flag_ids``
    holds each open flag as a dict with ``id``, ``severity`` and ``theme`` (and ``theme_title``
    and ``title`` when stored from revision 0004 on), as the engine's caseload frame takes them.
    """

    id: int
    reference: str
    therapist: str
    protocol_id: str
    status: str
    sessions_available: int
    sessions: int
    last_session: date | None
    updated_at: datetime
    fit: float | None
    completeness: float | None
    flags_high: int | None
    flags_medium: int | None
    flags_low: int | None
    alliance_latest: float | None
    alliance_trend: AllianceTrend | None
    outcome: str | None
    sessions_recorded: int | None
    sessions_attended: int | None
    treatment_sessions_attended: int | None
    dropped_after_first: bool | None
    caseness_at_start: bool | None
    finished: bool | None
    recovery: bool | None
    reliable_recovery: bool | None
    reliable_improvement: bool | None
    deterioration: bool | None
    not_on_track: bool | None
    wait_first_appointment: int | None
    wait_first_treatment: int | None
    wait_second_treatment: int | None
    open_flag_ids: tuple[dict[str, Any], ...] | None
    computed_at: datetime | None


@dataclass(frozen=True)
class CaseloadStamp:
    """How many real cases a database has, how many with figures, and when it last changed."""

    database: str
    cases: int
    with_figures: int
    changed_at: datetime | None
    computed_at: datetime | None
    # When the stamp was read: what changed from a moment before is what a caseload read as
    # of this stamp may lack. Not part of the stamp's identity (two reads, same caseload).
    taken_at: datetime | None = field(default=None, compare=False, hash=False)

    @property
    def without_figures(self) -> int:
        """Cases whose figures are not computed yet (e.g. just imported): not in the caseload."""
        return self.cases - self.with_figures


@dataclass(frozen=True)
class FlagState:
    """A flag the engine raises now, as ``sync_flags`` records it."""

    id: str
    severity: Severity
    theme: str
    title: str

    def __post_init__(self) -> None:
        _check_id("flag id", self.id, ACTOR_LENGTH)
        _check_choice("severity", self.severity, SEVERITIES)
        _check_id("theme", self.theme, THEME_LENGTH)
        _check_id("title", self.title, TITLE_LENGTH)


@dataclass(frozen=True)
class CaseFigures:
    """A case's caseload figures and the flags it raises, computed from it at ``version``."""

    case_id: int
    version: int
    metrics: CaseMetrics
    flags: tuple[FlagState, ...]


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


class CaseRepository:
    """Cases and attempts in one SQL database, with everything recorded about them.

    That is their answers, sessions and grades, and the caseload figures, flag history and
    supervision notes of cases. Concurrency is optimistic: editors pass back the version or
    revision they read.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, case: Case, kind: Kind = "case", scenario_id: str | None = None) -> int:
        """Store a new case (version 1) with its answers and sessions and return its id."""
        return self._create(case, kind, scenario_id, fits={})

    def get(self, case_id: int) -> StoredCase:
        """The case with this id."""
        with self._transaction() as connection:
            return _load(connection, cases.c.id == case_id)

    def get_by_reference(self, reference: str) -> StoredCase:
        """The case with this reference."""
        with self._transaction() as connection:
            return _load(connection, cases.c.reference == reference)

    def owner(self, case_id: int | None = None, reference: str | None = None) -> CaseOwner:
        """Whose case (or attempt) this is, by id or reference, without loading its answers."""
        where = cases.c.id == case_id if reference is None else cases.c.reference == reference
        query = select(cases.c.id, cases.c.reference, cases.c.therapist, cases.c.kind).where(where)
        with self._transaction() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise CaseNotFound()
        return CaseOwner(*row)

    def ids_of(self, therapists: Collection[str]) -> list[int]:
        """Ids of every case and attempt held by these therapists (or trainees)."""
        if not therapists:
            return []
        query = select(cases.c.id).where(cases.c.therapist.in_(sorted(therapists)))
        with self._transaction() as connection:
            return list(connection.execute(query).scalars())

    def save_answer(
        self,
        case_id: int,
        section: Section,
        item_id: str,
        answer: AnswerModel,
        expected_revision: int | None = None,
    ) -> int:
        """Insert or replace one answer and return its new revision (StaleAnswer if outdated)."""
        if not isinstance(answer, _answer_model(section)):
            raise ValueError(f"a {section} answer cannot be a {type(answer).__name__}")
        _check_id("item_id", item_id)
        key = _answer_key(case_id, section, item_id)
        now = _now()
        with self._transaction() as connection:
            _touch(connection, case_id, now)
            _, revision = _check_revision(connection, answers, key, expected_revision, StaleAnswer)
            values = {"payload": _payload(answer), "revision": revision + 1, "updated_at": now}
            if revision:
                connection.execute(update(answers).where(*key).values(**values))
            else:
                connection.execute(
                    insert(answers).values(
                        case_id=case_id, section=section, item_id=item_id, **values
                    )
                )
        return revision + 1

    def clear_answer(
        self,
        case_id: int,
        section: Section,
        item_id: str,
        expected_revision: int | None = None,
    ) -> None:
        """Delete one answer, if any, bumping the case version (StaleAnswer if outdated)."""
        _answer_model(section)
        key = _answer_key(case_id, section, item_id)
        with self._transaction() as connection:
            _touch(connection, case_id, _now())
            _check_revision(connection, answers, key, expected_revision, StaleAnswer)
            connection.execute(delete(answers).where(*key))

    def save_session(
        self,
        case_id: int,
        session: Session,
        fit: float | None,
        actor: str,
        expected_revision: int | None = None,
    ) -> int:
        """Insert or replace the session numbered ``session.number``; return its new revision.

        ``fit`` is the overall fit when the session is saved, computed by the caller. Changing a
        saved session appends a correction naming ``actor``. StaleSession if ``expected_revision``
        (0: no session yet) is outdated; ValueError if the session's date is out of order.
        """
        if not isinstance(session, Session):
            raise ValueError(f"a session cannot be a {type(session).__name__}")
        _check_finite("fit", fit)
        _check_id("actor", actor, ACTOR_LENGTH)
        key = _session_key(case_id, session.number)
        new = session.model_dump(mode="json")
        now = _now()
        with self._transaction() as connection:
            _touch(connection, case_id, now)
            old, revision = _check_revision(
                connection, sessions, key, expected_revision, StaleSession
            )
            _check_session_order(connection, case_id, session.number, new)
            values = {
                "date": session.date,
                "payload": _json(new),
                "fit": fit,
                "revision": revision + 1,
                "updated_at": now,
            }
            if revision:
                connection.execute(update(sessions).where(*key).values(**values))
            else:
                connection.execute(
                    insert(sessions).values(
                        case_id=case_id, number=session.number, recorded_at=now, **values
                    )
                )
            if old is not None and not _only_fills_in(old, new):
                _correct(connection, case_id, session.number, old, new, actor, now)
            _count_sessions(connection, case_id)
        return revision + 1

    def delete_session(
        self,
        case_id: int,
        number: int,
        actor: str,
        expected_revision: int | None = None,
    ) -> None:
        """Delete one session, if any, recording the removal as a correction by ``actor``."""
        _check_id("actor", actor, ACTOR_LENGTH)
        key = _session_key(case_id, number)
        now = _now()
        with self._transaction() as connection:
            _touch(connection, case_id, now)
            old, _ = _check_revision(connection, sessions, key, expected_revision, StaleSession)
            if old is not None:
                connection.execute(delete(sessions).where(*key))
                _correct(connection, case_id, number, old, None, actor, now)
                _count_sessions(connection, case_id)

    def corrections(self, case_id: int) -> list[Correction]:
        """Every correction to the case's saved sessions, oldest first."""
        c = session_corrections.c
        with self._transaction() as connection:
            _check_exists(connection, case_id)
            rows = connection.execute(
                select(session_corrections)
                .where(c.case_id == case_id)
                .order_by(c.id)  # the order they were made in, whatever the clocks said
            )
            return [
                Correction(
                    number=row.number,
                    old=json.loads(row.old_payload),
                    new=json.loads(row.new_payload) if row.new_payload is not None else None,
                    actor=row.actor,
                    at=row.corrected_at,
                )
                for row in rows
            ]

    def save_grade(self, case_id: int, grade: Grade) -> None:
        """Store the grade of an attempt, replacing any earlier one."""
        now = _now()
        values = {"mark": grade.mark, "payload": _payload(grade), "graded_at": now}
        with self._transaction() as connection:
            _touch(connection, case_id, now)
            kind = connection.execute(select(cases.c.kind).where(cases.c.id == case_id)).scalar()
            if kind != "attempt":
                raise ValueError("only attempts are graded; this is a case")
            key = attempt_grades.c.case_id == case_id
            replaced = connection.execute(update(attempt_grades).where(key).values(**values))
            if not replaced.rowcount:
                connection.execute(insert(attempt_grades).values(case_id=case_id, **values))

    def grade(self, case_id: int) -> Grade | None:
        """The grade of an attempt, or None while it is ungraded."""
        with self._transaction() as connection:
            row = connection.execute(
                select(cases.c.id, attempt_grades.c.payload)
                .select_from(cases.outerjoin(attempt_grades))
                .where(cases.c.id == case_id)
            ).one_or_none()
        if row is None:
            raise CaseNotFound()
        return Grade.model_validate_json(row.payload) if row.payload is not None else None

    def list_attempts(self, scenario_id: str | None = None) -> list[AttemptSummary]:
        """Attempts, of one scenario or all, newest first, with their marks, in one query."""
        query = (
            select(
                *(cases.c[name] for name in ATTEMPT_FIELDS),
                attempt_grades.c.mark,
                attempt_grades.c.graded_at,
            )
            .select_from(cases.outerjoin(attempt_grades))
            .where(cases.c.kind == "attempt")
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
        )
        if scenario_id is not None:
            query = query.where(cases.c.scenario_id == scenario_id)
        with self._transaction() as connection:
            return [AttemptSummary(**row._mapping) for row in connection.execute(query)]

    def update_case(self, case_id: int, expected_version: int | None, **fields: Any) -> int:
        """Change case fields other than answers and sessions and return the new version."""
        unknown = sorted(set(fields) - set(CASE_FIELDS))
        if unknown:
            raise ValueError(f"cases have no updatable field(s) {', '.join(unknown)}")
        for name in ("protocol_id", "anxiety_measure"):
            if name in fields:
                _check_id(name, fields[name])
        for name in ("problem", "second_problem"):
            if fields.get(name) is not None:
                _check_id(name, fields[name])
        try:
            with self._transaction() as connection:
                version = _touch(connection, case_id, _now())
                if expected_version is not None and expected_version != version - 1:
                    raise StaleCase(version - 1)
                current = connection.execute(
                    select(*(cases.c[name] for name in CASE_FIELDS)).where(cases.c.id == case_id)
                ).one()
                # The model checks the new values exactly as it checks a loaded case.
                changed = Case.model_validate({**current._mapping, **fields})
                values = {name: getattr(changed, name) for name in fields}
                connection.execute(update(cases).where(cases.c.id == case_id).values(**values))
        except IntegrityError as error:
            raise ReferenceTaken() from error
        return version

    def duplicate(self, case_id: int, new_reference: str, therapist: str | None = None) -> int:
        """Copy a case with its answers and sessions under a new reference, active, at the start.

        The copy keeps the kind, scenario and each session's fit; corrections stay with the
        original, whose history they are. ``therapist``, when given, holds the copy instead of
        the original's therapist.
        """
        original = self.get(case_id)
        data = original.case.model_dump()
        copy = {**data, "reference": new_reference, "status": "active", "step": "preferences"}
        if therapist is not None:
            copy["therapist"] = therapist
        return self._create(
            Case.model_validate(copy), original.kind, original.scenario_id, original.session_fits
        )

    def delete(self, case_id: int) -> None:
        """Delete a case; its answers, sessions, corrections and grade go with it."""
        with self._transaction() as connection:
            if connection.execute(delete(cases).where(cases.c.id == case_id)).rowcount == 0:
                raise CaseNotFound()

    def count(self, kind: Kind = "case") -> int:
        """How many cases (or attempts) are stored, archived ones included."""
        _check_kind(kind)
        with self._transaction() as connection:
            return connection.execute(
                select(func.count()).select_from(cases).where(cases.c.kind == kind)
            ).scalar_one()

    def list(self, include_archived: bool = False, kind: Kind = "case") -> list[CaseSummary]:
        """Summaries of the cases (or attempts), most recently changed first, in one query."""
        _check_kind(kind)
        query = (
            select(
                *(cases.c[name] for name in SUMMARY_FIELDS),
                _of_case(func.count(), answers).label("answered"),
                cases.c.session_count.label("sessions"),
                cases.c.last_session,
            )
            .where(cases.c.kind == kind)
            .order_by(cases.c.updated_at.desc(), cases.c.id.desc())
        )
        if not include_archived:
            query = query.where(cases.c.status == "active")
        with self._transaction() as connection:
            return [CaseSummary(**row._mapping) for row in connection.execute(query)]

    # Bulk ------------------------------------------------------------------------------------

    def import_cases(self, new_cases: Sequence[Case]) -> list[int]:
        """Store many cases with their answers and sessions in one transaction; return their ids.

        All or nothing: if any reference is taken (by a stored case or twice in ``new_cases``),
        nothing is stored and ReferenceTaken names the reference when it can. Sessions get no
        fit; the caller computes figures afterwards (see ``cases_without_metrics``).
        """
        repeated = [ref for ref, n in Counter(c.reference for c in new_cases).items() if n > 1]
        if repeated:
            raise ReferenceTaken(repeated[0])
        for case in new_cases:
            _check_case_ids(case)
        if not new_cases:
            return []
        now = _now()
        try:
            with self._transaction() as connection:
                _insert_many(
                    connection,
                    cases,
                    (*CASE_FIELDS, "session_count", "last_session"),
                    (tuple(_case_values(case).values()) for case in new_cases),
                    kind="case",
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                # Every case of this import was created at ``now``; a case created elsewhere at
                # the same microsecond would only add a reference that is not looked up.
                created = select(cases.c.reference, cases.c.id).where(cases.c.created_at == now)
                ids: dict[str, int] = dict(connection.execute(created).all())
                # Pydantic's own JSON is several times faster than _json, which counts with a
                # million sessions; stored payloads are only ever compared parsed.
                _insert_many(
                    connection,
                    answers,
                    ("case_id", "section", "item_id", "payload"),
                    (
                        (ids[case.reference], section, item_id, answer.model_dump_json())
                        for case in new_cases
                        for section, item_id, answer in _answer_items(case.answers)
                    ),
                    revision=1,
                    updated_at=now,
                )
                _insert_many(
                    connection,
                    sessions,
                    ("case_id", "number", "date", "payload"),
                    (
                        (
                            ids[case.reference],
                            session.number,
                            session.date,
                            session.model_dump_json(),
                        )
                        for case in new_cases
                        for session in case.sessions
                    ),
                    revision=1,
                    recorded_at=now,
                    updated_at=now,
                )
        except IntegrityError as error:
            raise ReferenceTaken(self._first_taken([c.reference for c in new_cases])) from error
        return [ids[case.reference] for case in new_cases]

    def _first_taken(self, references: list[str]) -> str | None:
        """The first of ``references`` that a stored case uses, if any (after a failed import)."""
        taken = self.taken_references(references)
        return next((reference for reference in references if reference in taken), None)

    def taken_references(self, references: Iterable[str]) -> set[str]:
        """Those of ``references`` that a stored case or attempt uses."""
        taken: set[str] = set()
        with self._transaction() as connection:
            for batch in _batches(list(dict.fromkeys(references)), REFERENCE_BATCH):
                query = select(cases.c.reference).where(cases.c.reference.in_(batch))
                taken.update(connection.execute(query).scalars())
        return taken

    def get_many(self, case_ids: Sequence[int]) -> list[StoredCase]:
        """The stored cases with these ids, in that order, leaving out ids no case has.

        Three statements per REFERENCE_BATCH cases, in one transaction, instead of three a case.
        """
        found: dict[int, StoredCase] = {}
        with self._transaction() as connection:
            for batch in _batches(list(dict.fromkeys(case_ids)), REFERENCE_BATCH):
                rows = connection.execute(select(cases).where(cases.c.id.in_(batch))).all()
                by_case: dict[int, tuple[list[Row[Any]], list[Row[Any]]]] = {
                    row.id: ([], []) for row in rows
                }
                answer_rows = connection.execute(
                    select(answers).where(answers.c.case_id.in_(batch))
                )
                for answer in answer_rows:
                    by_case[answer.case_id][0].append(answer)
                session_rows = connection.execute(
                    select(sessions)
                    .where(sessions.c.case_id.in_(batch))
                    .order_by(sessions.c.case_id, sessions.c.number)
                )
                for session in session_rows:
                    by_case[session.case_id][1].append(session)
                for row in rows:
                    found[row.id] = _stored_case(row, *by_case[row.id])
        return [found[case_id] for case_id in case_ids if case_id in found]

    def save_figures(self, figures: Sequence[CaseFigures], actor: str) -> list[int]:
        """Store the caseload figures and the flag changes of many cases; return the ids stored.

        What ``save_metrics`` and ``sync_flags`` do for one case, for many in one transaction
        and a few statements per REFERENCE_BATCH cases. A case whose version is no longer the
        one its figures were computed from (it changed, or was deleted, since) is skipped: the
        change's own refresh stores the figures of the case as it is now.
        """
        _check_id("actor", actor, ACTOR_LENGTH)
        values = {}
        for item in figures:
            _check_flag_states(item.flags)
            values[item.case_id] = _metrics_values(item.metrics)
        if len(values) != len(figures):
            raise ValueError("a case is listed more than once")
        at = _now()
        stored: list[int] = []
        e = flag_events.c
        with self._transaction() as connection:
            for batch in _batches(list(figures), REFERENCE_BATCH):
                ids = [item.case_id for item in batch]
                # Lock the cases until commit, as save_metrics and sync_flags do one by one.
                connection.execute(
                    update(cases).where(cases.c.id.in_(ids)).values(version=cases.c.version)
                )
                versions = dict(
                    connection.execute(
                        select(cases.c.id, cases.c.version).where(cases.c.id.in_(ids))
                    ).all()
                )
                current = [item for item in batch if versions.get(item.case_id) == item.version]
                kept = [item.case_id for item in current]
                if not kept:
                    continue
                connection.execute(delete(case_metrics).where(case_metrics.c.case_id.in_(kept)))
                _insert_many(
                    connection,
                    case_metrics,
                    ("case_id", *METRICS_FIELDS),
                    ((i, *(values[i][name] for name in METRICS_FIELDS)) for i in kept),
                )
                histories: dict[int, list[FlagEvent]] = {i: [] for i in kept}
                history = connection.execute(
                    select(e.case_id, *(e[name] for name in FLAG_EVENT_FIELDS))
                    .where(e.case_id.in_(kept))
                    .order_by(e.id)
                )
                for row in history:
                    histories[row.case_id].append(FlagEvent(*row[1:]))
                _insert_many(
                    connection,
                    flag_events,
                    ("case_id", *FLAG_EVENT_FIELDS),
                    (
                        (item.case_id, *astuple(event))
                        for item in current
                        for event in _flag_changes(histories[item.case_id], item.flags, actor, at)
                    ),
                )
                stored += kept
        return stored

    # The caseload ----------------------------------------------------------------------------

    def save_metrics(self, case_id: int, metrics: CaseMetrics) -> None:
        """Store the caseload figures of a case, replacing earlier ones, stamped with the time.

        The case's version is left alone: figures are derived from the case, not an edit of it.
        """
        values = _metrics_values(metrics)
        key = case_metrics.c.case_id == case_id
        with self._transaction() as connection:
            _lock(connection, case_id)
            if not connection.execute(update(case_metrics).where(key).values(**values)).rowcount:
                connection.execute(insert(case_metrics).values(case_id=case_id, **values))

    def caseload(
        self, include_archived: bool = False, therapist: str | None = None
    ) -> list[CaseloadRow]:
        """The caseload, one row per case (attempts excluded) in the order created, in one query.

        Only ``therapist``'s cases when given. Building a row and its open flags per case is the
        slow part: for thousands of cases use :meth:`caseload_frame`, about 2.5 times faster.
        """
        with self._transaction() as connection:
            rows = connection.execute(_caseload_query(include_archived, therapist)).all()
        # Positional: the query's columns are CASELOAD_FIELDS, the fields of CaseloadRow.
        return [
            CaseloadRow(*row[:-2], open_flags(row.open_flag_ids), row.computed_at) for row in rows
        ]

    def caseload_frame(
        self, include_archived: bool = False, therapist: str | None = None
    ) -> dict[str, list[Any]]:
        """The caseload of :meth:`caseload` as columns: a list per field of CASELOAD_FIELDS.

        The fast path for large caseloads, and what a dataframe takes as it is: no object per
        case, and ``open_flag_ids`` stays the stored JSON text (None before the first figures),
        for :func:`open_flags` to read where a case's flags are shown. On 10,000 cases it took
        40% of the time of :meth:`caseload`, most of the rest being the driver's own rows.
        """
        with self._transaction() as connection:
            rows = connection.execute(_caseload_query(include_archived, therapist)).all()
        columns = zip(*rows, strict=True) if rows else ([] for _ in CASELOAD_FIELDS)
        return {name: list(column) for name, column in zip(CASELOAD_FIELDS, columns, strict=True)}

    def caseload_columns(
        self,
        fields: Sequence[str],
        include_archived: bool = False,
        therapist: str | None = None,
        *,
        owners: Collection[str] | None = None,
        ids: Collection[int] | None = None,
        order: tuple[str, bool] | None = None,
        limit: int | None = None,
    ) -> dict[str, list[Any]]:
        """Some columns of :meth:`caseload_frame`, of the cases that have figures, in id order.

        The fast path of a dashboard over many thousands of cases: the statement goes to the
        driver as it is and each column is converted once per distinct value (a date, a yes or
        no), not once per row, so the values are those of :meth:`caseload_frame` at a fraction
        of the cost. The stored times are not offered: converting them is the slow part.

        ``owners`` keeps the cases of those therapists only, ``ids`` those cases. ``order`` (a
        field, and whether highest first) sorts as a stable sort of the id-ordered rows does:
        empty values last, equal ones in id order, text by code point; ``limit`` then keeps the
        first rows.
        """
        unknown = [name for name in fields if name not in CASELOAD_FIELDS or name in TIMES]
        if order is not None and (order[0] not in CASELOAD_FIELDS or order[0] in TIMES):
            unknown.append(order[0])
        if unknown:
            raise ValueError(f"the caseload has no column(s) {', '.join(unknown)} to read")
        query = _caseload_query(include_archived, therapist, fields, with_figures=True)
        if owners is not None:
            query = query.where(cases.c.therapist.in_(sorted(owners)))
        if ids is not None:
            query = query.where(cases.c.id.in_(sorted(ids)))
        if order is not None:
            query = query.order_by(None).order_by(*_stable_order(order, self._engine.dialect))
        if limit is not None:
            query = query.limit(limit)
        with self._transaction() as connection:
            # Expanded here: the IN lists of owners would otherwise wait for SQLAlchemy.
            compiled = query.compile(
                dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
            )
            parameters: Any = compiled.params
            if compiled.positional:
                parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
            result = connection.exec_driver_sql(compiled.string, parameters)
            # The driver's own rows: a row object each costs a fifth as much again.
            rows = result.cursor.fetchall()
            described = [column[1] for column in result.cursor.description]
            result.close()
            dialect = connection.dialect
        columns = zip(*rows, strict=True) if rows else ([] for _ in fields)
        kinds = zip(query.selected_columns, described, strict=True)
        return {
            name: _converted(values, column.type, dialect, described_as)
            for name, values, (column, described_as) in zip(fields, columns, kinds, strict=True)
        }

    def changed_since(self, moment: datetime) -> set[int]:
        """Ids of the cases (and attempts) changed, or whose figures were computed, at or after
        ``moment``: two range reads of the indexes of revision 0008. Deleted cases leave no
        trace here: compare counts for them."""
        case_ids = select(cases.c.id).where(cases.c.updated_at >= moment)
        figure_ids = select(case_metrics.c.case_id).where(case_metrics.c.computed_at >= moment)
        with self._transaction() as connection:
            return {
                *connection.execute(case_ids).scalars(),
                *connection.execute(figure_ids).scalars(),
            }

    def caseload_options(
        self, include_archived: bool = False, owners: Collection[str] | None = None
    ) -> tuple[int, list[str], list[str]]:
        """How many cases with figures :meth:`caseload_columns` would read, and their distinct
        therapists and protocol ids, sorted: what a caseload's filters offer, without its rows.

        One grouped pass over the cases; joined with the figures only while some real case is
        waiting for them (an import's), since otherwise every real case has figures: 30 ms
        instead of 490 on 100,000 cases.
        """
        chosen = cases.c.kind == "case"
        if not include_archived:
            chosen &= cases.c.status == "active"
        if owners is not None:
            chosen &= cases.c.therapist.in_(sorted(owners))
        with self._transaction() as connection:
            waiting = _real_cases(connection) - _real_figures(connection)
            source = cases.join(case_metrics) if waiting else cases
            groups = connection.execute(
                select(cases.c.therapist, cases.c.protocol_id, func.count())
                .select_from(source)
                .where(chosen)
                .group_by(cases.c.therapist, cases.c.protocol_id)
            ).all()
        therapists = sorted({therapist for therapist, _, _ in groups})
        protocols = sorted({protocol for _, protocol, _ in groups})
        return sum(counted for _, _, counted in groups), therapists, protocols

    def caseload_stamp(self) -> CaseloadStamp:
        """What moves whenever the caseload changes, in a few cheap statements: a cache key.

        Every change to a case moves its ``updated_at``, every new figure its ``computed_at``,
        and adding or deleting a case a count. It covers every case and attempt, so a change
        to any of them moves it; the database's URL tells two databases apart.
        """
        # One aggregate a statement: each is then an index's count or its last entry (the
        # indexes of revision 0008), instead of a pass over the table: 56 ms to 10 on 100,000.
        real = select(func.count()).select_from(cases).where(cases.c.kind == "case")
        taken = _now()
        with self._transaction() as connection:
            counted = connection.execute(real).scalar_one()
            changed_at = connection.execute(select(func.max(cases.c.updated_at))).scalar_one()
            figures = connection.execute(
                select(func.count()).select_from(case_metrics)
            ).scalar_one()
            computed_at = connection.execute(
                select(func.max(case_metrics.c.computed_at))
            ).scalar_one()
            with_figures = figures - _attempt_figures(connection)
        database = self._engine.url.render_as_string(hide_password=True)
        return CaseloadStamp(database, counted, with_figures, changed_at, computed_at, taken)

    def cases_with_open_flag(self, flag_id: str, include_archived: bool = False) -> list[int]:
        """Ids of the real cases whose stored figures hold this flag open."""
        _check_id("flag_id", flag_id, ACTOR_LENGTH)
        query = (
            select(cases.c.id)
            .join(case_metrics)
            .where(
                cases.c.kind == "case",
                case_metrics.c.open_flag_ids.contains(f'"{flag_id}"', autoescape=True),
            )
        )
        if not include_archived:
            query = query.where(cases.c.status == "active")
        with self._transaction() as connection:
            return list(connection.execute(query.order_by(cases.c.id)).scalars())

    def cases_without_metrics(self, limit: int) -> list[int]:
        """Ids of up to ``limit`` cases (not attempts) with no caseload figures, oldest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            select(cases.c.id)
            .select_from(cases.outerjoin(case_metrics))
            .where(cases.c.kind == "case", case_metrics.c.case_id.is_(None))
            .order_by(cases.c.id)
            .limit(limit)
        )
        # Counting is cheap (an index, one pass over the figures), the search is not (0.2 s on
        # 100,000 cases), and the app asks on every rerun: search only when a case is waiting.
        with self._transaction() as connection:
            if _real_cases(connection) == _real_figures(connection):
                return []
            return list(connection.execute(query).scalars())

    # Flags -----------------------------------------------------------------------------------

    def sync_flags(
        self,
        case_id: int,
        current: Sequence[FlagState],
        actor: str,
        at: datetime | None = None,
    ) -> list[FlagEvent]:
        """Record which flags the engine raises now; return the events this appended.

        A flag in ``current`` that is not open is ``raised`` (again, if it was cleared before);
        an open flag missing from ``current`` is ``cleared``. Nothing is appended when nothing
        changed. A flag is open from ``raised`` or ``reopened`` until ``cleared``.
        """
        _check_flag_states(current)
        _check_id("actor", actor, ACTOR_LENGTH)
        at = _checked_time(at)
        with self._transaction() as connection:
            _lock(connection, case_id)
            added = _flag_changes(_flag_history(connection, case_id), current, actor, at)
            _append_flag_events(connection, case_id, added)
        return added

    def decide_flag(
        self, case_id: int, flag_id: str, event: FlagDecision, reason: str, actor: str
    ) -> FlagEvent:
        """Record a decision about a flag raised on the case, and return it.

        A reason is required to acknowledge or resolve a flag, optional to reopen one.
        ValueError for any other event, a missing reason, or a flag never raised on the case.
        """
        _check_choice("event", event, FLAG_DECISIONS)
        reason = reason.strip()
        if not reason and event != "reopened":
            raise ValueError(f"a reason is required to mark a flag {event}")
        _check_id("actor", actor, ACTOR_LENGTH)
        with self._transaction() as connection:
            _lock(connection, case_id)
            raised = _last_raised(_flag_history(connection, case_id)).get(flag_id)
            if raised is None:
                raise ValueError(
                    f"flag {flag_id!r} was never raised on this case, so it cannot be {event}"
                )
            decided = _event_about(raised, event, reason or None, actor, _now())
            _append_flag_events(connection, case_id, [decided])
        return decided

    def flag_history(self, case_id: int) -> list[FlagEvent]:
        """Every event of every flag of the case, oldest first."""
        with self._transaction() as connection:
            _check_exists(connection, case_id)
            return _flag_history(connection, case_id)

    def flag_status(self, case_id: int) -> dict[str, FlagEventKind]:
        """The latest event of each flag ever raised on the case.

        That is ``raised`` while no one has decided about it since it was (last) raised, the
        latest decision (``acknowledged``, ``resolved`` or ``reopened``) after that, and
        ``cleared`` when the engine stopped raising it and no one decided since.
        """
        return {event.flag_id: event.event for event in self.flag_history(case_id)}

    # Supervision notes ---------------------------------------------------------------------

    def add_note(
        self, case_id: int, author: str, text: str, action: str, status: NoteStatus = "open"
    ) -> int:
        """Add a supervision note (version 1) to the case and return its id.

        ``action`` is the action agreed in supervision, empty when none was.
        """
        _check_id("author", author, ACTOR_LENGTH)
        _check_note_text(text)
        _check_choice("status", status, NOTE_STATUSES)
        now = _now()
        values = {"author": author, "text": text, "action": action, "status": status}
        with self._transaction() as connection:
            _lock(connection, case_id)
            note_id: int = connection.execute(
                insert(supervision_notes).values(
                    case_id=case_id, version=1, created_at=now, updated_at=now, **values
                )
            ).inserted_primary_key[0]
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
        _check_id("editor", editor, ACTOR_LENGTH)
        if text is not None:
            _check_note_text(text)
        if status is not None:
            _check_choice("status", status, NOTE_STATUSES)
        n = supervision_notes.c
        with self._transaction() as connection:
            note = _lock_note(connection, note_id)
            if note.version != expected_version:
                raise StaleNote(note.version)
            if all(note._mapping[name] == value for name, value in changes.items()):
                return note.version
            now = _now()
            connection.execute(
                insert(supervision_note_history).values(
                    note_id=note_id,
                    text=note.text,
                    action=note.action,
                    status=note.status,
                    editor=editor,
                    edited_at=now,
                )
            )
            connection.execute(
                update(supervision_notes)
                .where(n.id == note_id)
                .values(version=n.version + 1, updated_at=now, **changes)
            )
        return note.version + 1

    def notes(self, case_id: int) -> list[SupervisionNote]:
        """The supervision notes of a case, oldest first."""
        with self._transaction() as connection:
            _check_exists(connection, case_id)
            rows = connection.execute(
                select(supervision_notes)
                .where(supervision_notes.c.case_id == case_id)
                .order_by(supervision_notes.c.id)
            )
            return [SupervisionNote(**row._mapping) for row in rows]

    def note_case(self, note_id: int) -> int:
        """The id of the case a supervision note is about; NoteNotFound if there is none."""
        query = select(supervision_notes.c.case_id).where(supervision_notes.c.id == note_id)
        with self._transaction() as connection:
            case_id = connection.execute(query).scalar()
        if case_id is None:
            raise NoteNotFound()
        return int(case_id)

    def note_history(self, note_id: int) -> list[NoteVersion]:
        """What the note said before each of its edits, oldest first."""
        h = supervision_note_history.c
        with self._transaction() as connection:
            exists = select(supervision_notes.c.id).where(supervision_notes.c.id == note_id)
            if connection.execute(exists).first() is None:
                raise NoteNotFound()
            rows = connection.execute(
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
        with self._transaction() as connection:
            return [CaseloadNote(**row._mapping) for row in connection.execute(query)]

    def _create(
        self,
        case: Case,
        kind: Kind,
        scenario_id: str | None,
        fits: dict[int, float | None],
    ) -> int:
        """Store a new case with its answers, and its sessions with the given fits."""
        _check_kind(kind)
        if scenario_id is not None:
            _check_id("scenario_id", scenario_id)
        _check_case_ids(case)
        for fit in fits.values():
            _check_finite("fit", fit)
        now = _now()
        try:
            with self._transaction() as connection:
                result = connection.execute(
                    insert(cases).values(
                        **_case_values(case),
                        kind=kind,
                        scenario_id=scenario_id,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                case_id: int = result.inserted_primary_key[0]
                answer_rows = [
                    {
                        "case_id": case_id,
                        "section": section,
                        "item_id": item_id,
                        "payload": _payload(answer),
                        "revision": 1,
                        "updated_at": now,
                    }
                    for section, item_id, answer in _answer_items(case.answers)
                ]
                if answer_rows:
                    connection.execute(insert(answers), answer_rows)
                session_rows = [
                    {
                        "case_id": case_id,
                        "number": session.number,
                        "date": session.date,
                        "payload": _payload(session),
                        "fit": fits.get(session.number),
                        "revision": 1,
                        "recorded_at": now,
                        "updated_at": now,
                    }
                    for session in case.sessions
                ]
                if session_rows:
                    connection.execute(insert(sessions), session_rows)
        except IntegrityError as error:
            raise ReferenceTaken() from error
        return case_id

    def _transaction(self) -> AbstractContextManager[Connection]:
        """A connection in a transaction; a database outage surfaces as StorageUnavailable."""
        return transaction(self._engine)


def _load(connection: Connection, where: ColumnElement[bool]) -> StoredCase:
    """Build the stored case matching ``where`` from its rows."""
    row = connection.execute(select(cases).where(where)).one_or_none()
    if row is None:
        raise CaseNotFound()
    answer_rows = connection.execute(select(answers).where(answers.c.case_id == row.id)).all()
    session_rows = connection.execute(
        select(sessions).where(sessions.c.case_id == row.id).order_by(sessions.c.number)
    ).all()
    return _stored_case(row, answer_rows, session_rows)


def _stored_case(
    row: Row[Any], answer_rows: Sequence[Row[Any]], session_rows: Sequence[Row[Any]]
) -> StoredCase:
    """A stored case from its row, its answers' rows and its sessions' rows in number order."""
    grouped: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for answer in answer_rows:
        grouped[answer.section][answer.item_id] = json.loads(answer.payload)
    fields = {name: row._mapping[name] for name in CASE_FIELDS}
    case = Case.model_validate(
        {
            **fields,
            "answers": grouped,
            "sessions": [json.loads(session.payload) for session in session_rows],
        }
    )
    return StoredCase(
        id=row.id,
        version=row.version,
        case=case,
        revisions={(answer.section, answer.item_id): answer.revision for answer in answer_rows},
        updated_at=row.updated_at,
        kind=row.kind,
        scenario_id=row.scenario_id,
        session_revisions={session.number: session.revision for session in session_rows},
        session_fits={session.number: session.fit for session in session_rows},
    )


def _case_values(case: Case) -> dict[str, Any]:
    """The column values of a new case's row, its session count and latest date included."""
    return {
        **{name: getattr(case, name) for name in CASE_FIELDS},
        "session_count": len(case.sessions),
        "last_session": max((session.date for session in case.sessions), default=None),
    }


def _count_sessions(connection: Connection, case_id: int) -> None:
    """Bring the case's copies of its session count and latest date up to date."""
    of_case = sessions.c.case_id == case_id
    connection.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(
            session_count=select(func.count()).where(of_case).scalar_subquery(),
            last_session=select(func.max(sessions.c.date)).where(of_case).scalar_subquery(),
        )
    )


def _touch(connection: Connection, case_id: int, now: datetime) -> int:
    """Bump the case's version, locking the case until commit; return the new version."""
    version = connection.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(version=cases.c.version + 1, updated_at=now)
        .returning(cases.c.version)
    ).scalar_one_or_none()
    if version is None:
        raise CaseNotFound()
    return version


def _check_exists(connection: Connection, case_id: int) -> None:
    """CaseNotFound unless a case has this id."""
    if connection.execute(select(cases.c.id).where(cases.c.id == case_id)).first() is None:
        raise CaseNotFound()


def _check_revision(
    connection: Connection,
    table: Table,
    key: tuple[ColumnElement[bool], ...],
    expected: int | None,
    stale: type[StaleAnswer | StaleSession],
) -> tuple[dict[str, Any] | None, int]:
    """The stored payload and revision of an answer or session, or (None, 0) if there is none.

    Raises ``stale`` with both if the revision is not ``expected``.
    """
    stored: Row[Any] | None = connection.execute(
        select(table.c.payload, table.c.revision).where(*key)
    ).one_or_none()
    current = json.loads(stored.payload) if stored else None
    revision = stored.revision if stored else 0
    if expected is not None and expected != revision:
        raise stale(current, revision)
    return current, revision


def _check_session_order(
    connection: Connection, case_id: int, number: int, session: dict[str, Any]
) -> None:
    """ValueError if the session numbered ``number`` does not fit between the case's others."""
    fields = connection.execute(
        select(*(cases.c[name] for name in CASE_FIELDS)).where(cases.c.id == case_id)
    ).one()
    others = connection.execute(
        select(sessions.c.number, sessions.c.payload).where(
            sessions.c.case_id == case_id, sessions.c.number != number
        )
    ).all()
    course = [(row.number, json.loads(row.payload)) for row in others]
    course.append((number, session))
    course.sort(key=lambda numbered: numbered[0])
    # The model checks the course exactly as it checks a loaded case, so a save cannot leave
    # the case unreadable.
    Case.model_validate({**fields._mapping, "sessions": [payload for _, payload in course]})


def _correct(
    connection: Connection,
    case_id: int,
    number: int,
    old: dict[str, Any],
    new: dict[str, Any] | None,
    actor: str,
    now: datetime,
) -> None:
    """Append a correction of a saved session; corrections are never changed or removed."""
    connection.execute(
        insert(session_corrections).values(
            case_id=case_id,
            number=number,
            old_payload=_json(old),
            new_payload=_json(new) if new is not None else None,
            actor=actor,
            corrected_at=now,
        )
    )


def _lock(connection: Connection, case_id: int) -> None:
    """Lock the case until commit without changing it (CaseNotFound if there is none)."""
    locked = connection.execute(
        update(cases).where(cases.c.id == case_id).values(version=cases.c.version)
    )
    if not locked.rowcount:
        raise CaseNotFound()


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


def _insert_many(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
    **constants: Any,
) -> None:
    """Insert ``rows``, values of ``columns``, each with the same ``constants``, through the driver.

    SQLAlchemy builds and converts the parameters of every row one by one, which at a million
    rows costs more than the database's own work. Here the constants are converted once, the
    columns whose type needs it on this backend a batch at a time, and the driver gets each batch
    (so memory stays bounded) with the statement SQLAlchemy compiled.
    """
    dialect = connection.dialect
    names = (*columns, *constants)
    compiled = (
        insert(table).values({name: bindparam(name) for name in names}).compile(dialect=dialect)
    )
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    fixed = [
        process(value) if process else value
        for process, value in zip(processors[len(columns) :], constants.values(), strict=True)
    ]
    rows = iter(rows)
    while batch := list(islice(rows, INSERT_BATCH)):
        values: list[Iterable[Any]] = [*zip(*batch, strict=True)]
        for i, process in enumerate(processors[: len(columns)]):
            if process:
                values[i] = [*map(process, values[i])]
        values += [repeat(value, len(batch)) for value in fixed]
        if compiled.positional:
            ordered = [values[names.index(name)] for name in compiled.positiontup or ()]
            parameters: list[Any] = [*zip(*ordered, strict=True)]
        else:
            parameters = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        connection.exec_driver_sql(compiled.string, parameters)


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _caseload_query(
    include_archived: bool,
    therapist: str | None,
    fields: Sequence[str] = CASELOAD_FIELDS,
    with_figures: bool = False,
) -> Select[Any]:
    """The caseload in one statement: the chosen cases and their stored figures, by id.

    ``with_figures`` leaves out the cases whose figures were never computed.
    """
    columns = {
        **{name: cases.c[name] for name in (*CASELOAD_CASE_FIELDS, "last_session", "updated_at")},
        "sessions": cases.c.session_count.label("sessions"),
        **{name: case_metrics.c[name] for name in METRICS_FIELDS},
    }
    chosen = cases.alias("chosen")
    which = select(chosen.c.id).where(chosen.c.kind == "case")
    if not include_archived:
        which = which.where(chosen.c.status == "active")
    if therapist is not None:
        which = which.where(chosen.c.therapist == therapist)
    # The cases are chosen in a subquery, so the rows are read in id order: SQLite otherwise
    # reads them through the index on kind and status and sorts them afterwards, which for
    # 100,000 cases took twice as long.
    joined = cases.join(case_metrics) if with_figures else cases.outerjoin(case_metrics)
    return (
        select(*(columns[name] for name in fields))
        .select_from(joined)
        .where(cases.c.id.in_(which))
        .order_by(cases.c.id)
    )


def _caseload_column(name: str) -> Any:
    return cases.c[name] if name in cases.c else case_metrics.c[name]


def _stable_order(order: tuple[str, bool], dialect: Dialect) -> list[Any]:
    """ORDER BY terms for one caseload field as a stable sort of id-ordered rows sorts it."""
    name, descending = order
    column = cases.c.session_count if name == "sessions" else _caseload_column(name)
    if dialect.name == "postgresql" and isinstance(column.type, String):
        column = column.collate("C")  # code point order, as Python compares text
    return [column.is_(None), column.desc() if descending else column.asc(), cases.c.id]


def _real_cases(connection: Connection) -> int:
    """How many real cases (not attempts) there are: a count of an index."""
    real = select(func.count()).select_from(cases).where(cases.c.kind == "case")
    return connection.execute(real).scalar_one()


def _real_figures(connection: Connection) -> int:
    """How many real cases have figures: counts of indexes (attempts rarely have any)."""
    figures = connection.execute(select(func.count()).select_from(case_metrics)).scalar_one()
    return figures - _attempt_figures(connection)


def _attempt_figures(connection: Connection) -> int:
    """How many practice attempts have figures (storage allows it; services never store any)."""
    query = select(func.count()).select_from(cases.join(case_metrics))
    return connection.execute(query.where(cases.c.kind == "attempt")).scalar_one()


def _converted(
    values: Iterable[Any], kind: TypeEngine[Any], dialect: Dialect, described_as: Any
) -> list[Any]:
    """The driver's values of a column as SQLAlchemy gives them, converted once per value.

    ``described_as`` is the type the driver described the column with (its cursor's).
    """
    process = kind.dialect_impl(dialect).result_processor(dialect, described_as)
    if process is None:
        return list(values)
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]


def open_flags(stored: str | None) -> tuple[dict[str, Any], ...] | None:
    """The open flags of stored caseload figures, from the JSON text ``caseload_frame`` gives."""
    if stored is None:
        return None
    return tuple(json.loads(stored))


def _metrics_values(metrics: CaseMetrics) -> dict[str, Any]:
    """The ``case_metrics`` columns of the engine's figures, stamped with the time.

    The model is checked again, as a model changed after it was built is not, and NaN (which
    SQLite stores as NULL) is refused; a ValueError names the field.
    """
    if not isinstance(metrics, CaseMetrics):
        raise ValueError(f"caseload figures cannot be a {type(metrics).__name__}")
    metrics = CaseMetrics.model_validate(metrics.model_dump())  # a ValueError naming the field
    for name in ("fit", "completeness", "alliance_latest"):
        _check_finite(name, getattr(metrics, name), optional=name != "completeness")
    values = {name: getattr(metrics, name) for name in MODEL_METRICS_FIELDS}
    values.update({f"flags_{s}": metrics.flags_by_severity.get(s, 0) for s in SEVERITIES})
    for name in ("sessions_recorded", "sessions_attended", "treatment_sessions_attended"):
        _check_count(name, values[name])
    for severity in SEVERITIES:
        _check_count(f"flags_{severity}", values[f"flags_{severity}"])
    values["open_flag_ids"] = _json([flag.model_dump(mode="json") for flag in metrics.open_flags])
    values["computed_at"] = _now()
    return values


def _flag_history(connection: Connection, case_id: int) -> list[FlagEvent]:
    """Every flag event of the case in the order recorded, whatever the clocks said."""
    f = flag_events.c
    rows = connection.execute(
        select(f.flag_id, f.event, f.severity, f.theme, f.title, f.reason, f.actor, f.at)
        .where(f.case_id == case_id)
        .order_by(f.id)
    )
    return [FlagEvent(*row) for row in rows]


def _check_flag_states(current: Sequence[FlagState]) -> None:
    """Refuse flags that are not FlagState values, or a flag listed twice."""
    if not all(isinstance(flag, FlagState) for flag in current):
        raise ValueError("current must hold FlagState values")
    repeated = [flag_id for flag_id, n in Counter(f.id for f in current).items() if n > 1]
    if repeated:
        raise ValueError(f"flag {repeated[0]!r} is listed more than once")


def _flag_changes(
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


def _of_case(aggregate: ColumnElement[Any], table: Table) -> ScalarSelect[Any]:
    """``aggregate`` over the rows of ``table`` that belong to the case of the outer query."""
    return select(aggregate).where(table.c.case_id == cases.c.id).scalar_subquery()


def _answer_key(case_id: int, section: Section, item_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one answer row."""
    c = answers.c
    return (c.case_id == case_id, c.section == section, c.item_id == item_id)


def _session_key(case_id: int, number: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one session row."""
    return (sessions.c.case_id == case_id, sessions.c.number == number)


def _answer_items(case_answers: Answers) -> Iterator[tuple[Section, str, AnswerModel]]:
    """Every answer of a case with its section and item id."""
    for section in SECTIONS:
        for item_id, answer in getattr(case_answers, section).items():
            yield section, item_id, answer


def _answer_model(section: Section) -> type[AnswerModel]:
    """The answer model stored in ``section``."""
    if section not in ANSWER_MODELS:
        raise ValueError(f"unknown section {section!r}; expected one of {', '.join(SECTIONS)}")
    return ANSWER_MODELS[section]


def _check_kind(kind: str) -> None:
    """Refuse kinds the database would refuse, before touching it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _check_case_ids(case: Case) -> None:
    """Refuse a case whose ids the database columns cannot hold."""
    _check_id("protocol_id", case.protocol_id)
    _check_id("anxiety_measure", case.anxiety_measure)
    for name in ("problem", "second_problem"):
        if getattr(case, name) is not None:
            _check_id(name, getattr(case, name))
    for _section, item_id, _answer in _answer_items(case.answers):
        _check_id("item_id", item_id)


def _check_id(name: str, value: str, longest: int = ID_LENGTH) -> None:
    """Refuse ids the database column cannot hold, the same way on every backend."""
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise ValueError(f"{name} must be 1–{longest} characters long")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse a value outside ``choices`` before the database does, naming the field."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _check_finite(name: str, value: float | None, optional: bool = True) -> None:
    """Refuse numbers a backend would store differently (SQLite turns NaN into NULL)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number" + (" or None" if optional else ""))


def _check_count(name: str, value: int) -> None:
    """Refuse a count that is not a whole number from 0 up."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number from 0 up")


def _check_note_text(text: str) -> None:
    """Refuse a supervision note without text."""
    if not text.strip():
        raise ValueError("a supervision note needs some text")


def _checked_time(at: datetime | None) -> datetime:
    """``at``, or now when None; naive times are refused, as the database would."""
    if at is None:
        return _now()
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at


def _payload(model: AnswerModel | Session | Grade) -> str:
    """The JSON text stored for an answer, a session or a grade."""
    return _json(model.model_dump(mode="json"))


def _json(data: dict[str, Any] | list[Any]) -> str:
    """JSON text of a payload, the same text for the same data."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _only_fills_in(old: Any, new: Any) -> bool:
    """Whether ``new`` keeps every value ``old`` had and only adds answers.

    Answering the items of a session one by one is entry, not correction: only a change to, or
    the removal of, something already recorded is kept as a correction.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return all(key in new and _only_fills_in(value, new[key]) for key, value in old.items())
    return old in (None, "", [], {}) or old == new


def _now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
