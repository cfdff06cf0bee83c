"""Cases and attempts with their answers and grades, in SQL."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    ScalarSelect,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tailoring.model.answers import (
    SECTIONS,
    AllianceAnswer,
    Answers,
    PreferenceAnswer,
    Section,
    SocialAnswer,
)
from tailoring.model.case import Case, WalkStep
from tailoring.model.grade import Grade
from tailoring.storage.common import (
    REFERENCE_BATCH,
    Kind,
    batches,
    check_finite,
    check_id,
    check_kind,
    check_revision,
    payload_json,
    touch_case,
    utc_now,
)
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
)
from tailoring.storage.tables import (
    answers,
    attempt_grades,
    cases,
    sessions,
)

AnswerModel = PreferenceAnswer | SocialAnswer | AllianceAnswer

ANSWER_MODELS: dict[Section, type[AnswerModel]] = {
    "preferences": PreferenceAnswer,
    "social": SocialAnswer,
    "alliance": AllianceAnswer,
}

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
    "low_intensity_chosen",
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


def load_case(connection: Connection, where: ColumnElement[bool]) -> StoredCase:
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


def case_values(case: Case) -> dict[str, Any]:
    """The column values of a new case's row, its session count and latest date included."""
    return {
        **{name: getattr(case, name) for name in CASE_FIELDS},
        "session_count": len(case.sessions),
        "last_session": max((session.date for session in case.sessions), default=None),
    }


def _of_case(aggregate: ColumnElement[Any], table: Table) -> ScalarSelect[Any]:
    """``aggregate`` over the rows of ``table`` that belong to the case of the outer query."""
    return select(aggregate).where(table.c.case_id == cases.c.id).scalar_subquery()


def _answer_key(case_id: int, section: Section, item_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one answer row."""
    c = answers.c
    return (c.case_id == case_id, c.section == section, c.item_id == item_id)


def answer_items(case_answers: Answers) -> Iterator[tuple[Section, str, AnswerModel]]:
    """Every answer of a case with its section and item id."""
    for section in SECTIONS:
        for item_id, answer in getattr(case_answers, section).items():
            yield section, item_id, answer


def _answer_model(section: Section) -> type[AnswerModel]:
    """The answer model stored in ``section``."""
    if section not in ANSWER_MODELS:
        raise ValueError(f"unknown section {section!r}; expected one of {', '.join(SECTIONS)}")
    return ANSWER_MODELS[section]


def check_case_ids(case: Case) -> None:
    """Refuse a case whose ids the database columns cannot hold."""
    check_id("protocol_id", case.protocol_id)
    check_id("anxiety_measure", case.anxiety_measure)
    for name in ("problem", "second_problem"):
        if getattr(case, name) is not None:
            check_id(name, getattr(case, name))
    for _section, item_id, _answer in answer_items(case.answers):
        check_id("item_id", item_id)


class CaseRepository:
    """Cases and attempts with their answers and grades, in the transaction of ``connection``.

    Concurrency is optimistic: editors pass back the version or revision they read. Every write
    to a case's own record bumps its version first, which locks the case until commit.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, case: Case, kind: Kind = "case", scenario_id: str | None = None) -> int:
        """Store a new case (version 1) with its answers and sessions and return its id."""
        return self._create(case, kind, scenario_id, fits={})

    def get(self, case_id: int) -> StoredCase:
        """The case with this id."""
        return load_case(self._connection, cases.c.id == case_id)

    def owner(self, case_id: int | None = None, reference: str | None = None) -> CaseOwner:
        """Whose case (or attempt) this is, by id or reference, without loading its answers."""
        where = cases.c.id == case_id if reference is None else cases.c.reference == reference
        query = select(cases.c.id, cases.c.reference, cases.c.therapist, cases.c.kind).where(where)
        row = self._connection.execute(query).first()
        if row is None:
            raise CaseNotFound()
        return CaseOwner(*row)

    def ids_of(self, therapists: Collection[str]) -> list[int]:
        """Ids of every case and attempt held by these therapists (or trainees)."""
        if not therapists:
            return []
        query = select(cases.c.id).where(cases.c.therapist.in_(sorted(therapists)))
        return list(self._connection.execute(query).scalars())

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
        check_id("item_id", item_id)
        key = _answer_key(case_id, section, item_id)
        now = utc_now()
        touch_case(self._connection, case_id, now)
        _, revision = check_revision(self._connection, answers, key, expected_revision, StaleAnswer)
        values = {"payload": payload_json(answer), "revision": revision + 1, "updated_at": now}
        if revision:
            self._connection.execute(update(answers).where(*key).values(**values))
        else:
            self._connection.execute(
                insert(answers).values(case_id=case_id, section=section, item_id=item_id, **values)
            )
        return revision + 1

    def save_grade(self, case_id: int, grade: Grade) -> None:
        """Store the grade of an attempt, replacing any earlier one."""
        now = utc_now()
        values = {"mark": grade.mark, "payload": payload_json(grade), "graded_at": now}
        touch_case(self._connection, case_id, now)
        kind = self._connection.execute(select(cases.c.kind).where(cases.c.id == case_id)).scalar()
        if kind != "attempt":
            raise ValueError("only attempts are graded; this is a case")
        key = attempt_grades.c.case_id == case_id
        replaced = self._connection.execute(update(attempt_grades).where(key).values(**values))
        if not replaced.rowcount:
            self._connection.execute(insert(attempt_grades).values(case_id=case_id, **values))

    def grade(self, case_id: int) -> Grade | None:
        """The grade of an attempt, or None while it is ungraded."""
        row = self._connection.execute(
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
        return [AttemptSummary(**row._mapping) for row in self._connection.execute(query)]

    def update_case(self, case_id: int, expected_version: int | None, **fields: Any) -> int:
        """Change case fields other than answers and sessions and return the new version."""
        unknown = sorted(set(fields) - set(CASE_FIELDS))
        if unknown:
            raise ValueError(f"cases have no updatable field(s) {', '.join(unknown)}")
        for name in ("protocol_id", "anxiety_measure"):
            if name in fields:
                check_id(name, fields[name])
        for name in ("problem", "second_problem"):
            if fields.get(name) is not None:
                check_id(name, fields[name])
        try:
            version = touch_case(self._connection, case_id, utc_now())
            if expected_version is not None and expected_version != version - 1:
                raise StaleCase(version - 1)
            current = self._connection.execute(
                select(*(cases.c[name] for name in CASE_FIELDS)).where(cases.c.id == case_id)
            ).one()
            # The model checks the new values exactly as it checks a loaded case.
            changed = Case.model_validate({**current._mapping, **fields})
            values = {name: getattr(changed, name) for name in fields}
            self._connection.execute(update(cases).where(cases.c.id == case_id).values(**values))
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
        if self._connection.execute(delete(cases).where(cases.c.id == case_id)).rowcount == 0:
            raise CaseNotFound()

    def count(self, kind: Kind = "case") -> int:
        """How many cases (or attempts) are stored, archived ones included."""
        check_kind(kind)
        return self._connection.execute(
            select(func.count()).select_from(cases).where(cases.c.kind == kind)
        ).scalar_one()

    def summaries(self, include_archived: bool = False, kind: Kind = "case") -> list[CaseSummary]:
        """Summaries of the cases (or attempts), most recently changed first, in one query."""
        check_kind(kind)
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
        return [CaseSummary(**row._mapping) for row in self._connection.execute(query)]

    def get_many(self, case_ids: Sequence[int]) -> list[StoredCase]:
        """The stored cases with these ids, in that order, leaving out ids no case has.

        Three statements per REFERENCE_BATCH cases, in one transaction, instead of three a case.
        """
        found: dict[int, StoredCase] = {}
        for batch in batches(list(dict.fromkeys(case_ids)), REFERENCE_BATCH):
            rows = self._connection.execute(select(cases).where(cases.c.id.in_(batch))).all()
            by_case: dict[int, tuple[list[Row[Any]], list[Row[Any]]]] = {
                row.id: ([], []) for row in rows
            }
            answer_rows = self._connection.execute(
                select(answers).where(answers.c.case_id.in_(batch))
            )
            for answer in answer_rows:
                by_case[answer.case_id][0].append(answer)
            session_rows = self._connection.execute(
                select(sessions)
                .where(sessions.c.case_id.in_(batch))
                .order_by(sessions.c.case_id, sessions.c.number)
            )
            for session in session_rows:
                by_case[session.case_id][1].append(session)
            for row in rows:
                found[row.id] = _stored_case(row, *by_case[row.id])
        return [found[case_id] for case_id in case_ids if case_id in found]

    def _create(
        self,
        case: Case,
        kind: Kind,
        scenario_id: str | None,
        fits: dict[int, float | None],
    ) -> int:
        """Store a new case with its answers, and its sessions with the given fits."""
        check_kind(kind)
        if scenario_id is not None:
            check_id("scenario_id", scenario_id)
        check_case_ids(case)
        for fit in fits.values():
            check_finite("fit", fit)
        now = utc_now()
        try:
            case_id: int = self._connection.execute(
                insert(cases)
                .values(
                    **case_values(case),
                    kind=kind,
                    scenario_id=scenario_id,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                .returning(cases.c.id)
            ).scalar_one()
            answer_rows = [
                {
                    "case_id": case_id,
                    "section": section,
                    "item_id": item_id,
                    "payload": payload_json(answer),
                    "revision": 1,
                    "updated_at": now,
                }
                for section, item_id, answer in answer_items(case.answers)
            ]
            if answer_rows:
                self._connection.execute(insert(answers), answer_rows)
            session_rows = [
                {
                    "case_id": case_id,
                    "number": session.number,
                    "date": session.date,
                    "payload": payload_json(session),
                    "fit": fits.get(session.number),
                    "revision": 1,
                    "recorded_at": now,
                    "updated_at": now,
                }
                for session in case.sessions
            ]
            if session_rows:
                self._connection.execute(insert(sessions), session_rows)
        except IntegrityError as error:
            raise ReferenceTaken() from error
        return case_id
