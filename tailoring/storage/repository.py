"""Cases and everything recorded about them in a SQL database: the only code that speaks SQL.

Every write bumps the case's ``version`` first. That ``UPDATE`` locks the case until commit
(a row lock on PostgreSQL, the write lock on SQLite), so writers to one case take turns and a
revision check made after it cannot be overtaken by another writer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    ScalarSelect,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

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
from tailoring.model.grade import Grade
from tailoring.model.session import Session
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StaleSession,
    StorageUnavailable,
)
from tailoring.storage.tables import answers, attempt_grades, cases, session_corrections, sessions

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
    "protocol_id",
    "sessions_available",
    "step",
    "status",
    "anxiety_measure",
)
# The case columns of a summary: no answers, sessions or anxiety measure.
SUMMARY_FIELDS = (
    "id",
    "reference",
    "protocol_id",
    "sessions_available",
    "step",
    "status",
    "kind",
    "scenario_id",
    "version",
    "updated_at",
)
ATTEMPT_FIELDS = ("id", "reference", "scenario_id", "created_at", "updated_at")
ID_LENGTH = 40  # the width of the id columns: protocol_id, item_id, anxiety_measure, scenario_id
ACTOR_LENGTH = 80


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list: a case without its answers, with how many answers and sessions."""

    id: int
    reference: str
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


class CaseRepository:
    """Cases, attempts, their answers, sessions and grades in one SQL database.

    Concurrency is optimistic: editors pass back the version or revision they read.
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
        _check_fit(fit)
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
            if old is not None and old != new:
                _correct(connection, case_id, session.number, old, new, actor, now)
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

    def duplicate(self, case_id: int, new_reference: str) -> int:
        """Copy a case with its answers and sessions under a new reference, active, at the start.

        The copy keeps the kind, scenario and each session's fit; corrections stay with the
        original, whose history they are.
        """
        original = self.get(case_id)
        data = original.case.model_dump()
        copy = {**data, "reference": new_reference, "status": "active", "step": "preferences"}
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
                _of_case(func.count(), sessions).label("sessions"),
                _of_case(func.max(sessions.c.date), sessions).label("last_session"),
            )
            .where(cases.c.kind == kind)
            .order_by(cases.c.updated_at.desc(), cases.c.id.desc())
        )
        if not include_archived:
            query = query.where(cases.c.status == "active")
        with self._transaction() as connection:
            return [CaseSummary(**row._mapping) for row in connection.execute(query)]

    def _create(
        self,
        case: Case,
        kind: Kind,
        scenario_id: str | None,
        fits: dict[int, float | None],
    ) -> int:
        """Store a new case with its answers, and its sessions with the given fits."""
        _check_kind(kind)
        for name, value in (("protocol_id", case.protocol_id), ("scenario_id", scenario_id)):
            if value is not None:
                _check_id(name, value)
        _check_id("anxiety_measure", case.anxiety_measure)
        for _section, item_id, _answer in _answer_items(case.answers):
            _check_id("item_id", item_id)
        for fit in fits.values():
            _check_fit(fit)
        now = _now()
        try:
            with self._transaction() as connection:
                values = {name: getattr(case, name) for name in CASE_FIELDS}
                result = connection.execute(
                    insert(cases).values(
                        **values,
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

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A connection in a transaction; a database outage surfaces as StorageUnavailable."""
        try:
            with self._engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise  # a broken rule, not an outage: the caller says which rule
        except DBAPIError as error:
            raise StorageUnavailable() from error


def _load(connection: Connection, where: ColumnElement[bool]) -> StoredCase:
    """Build the stored case matching ``where`` from its rows."""
    row = connection.execute(select(cases).where(where)).one_or_none()
    if row is None:
        raise CaseNotFound()
    answer_rows = connection.execute(select(answers).where(answers.c.case_id == row.id)).all()
    grouped: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for answer in answer_rows:
        grouped[answer.section][answer.item_id] = json.loads(answer.payload)
    session_rows = connection.execute(
        select(sessions).where(sessions.c.case_id == row.id).order_by(sessions.c.number)
    ).all()
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


def _check_id(name: str, value: str, longest: int = ID_LENGTH) -> None:
    """Refuse ids the database column cannot hold, the same way on every backend."""
    if not 1 <= len(value) <= longest:
        raise ValueError(f"{name} must be 1–{longest} characters long")


def _check_fit(fit: float | None) -> None:
    """Refuse fits a backend would store differently (SQLite turns NaN into NULL)."""
    if fit is not None and not math.isfinite(fit):
        raise ValueError("fit must be a finite number or None")


def _payload(model: AnswerModel | Session | Grade) -> str:
    """The JSON text stored for an answer, a session or a grade."""
    return _json(model.model_dump(mode="json"))


def _json(data: dict[str, Any]) -> str:
    """JSON text of a payload, the same text for the same data."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
