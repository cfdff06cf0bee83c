"""Cases and their answers in a SQL database: the only code in tailoring that speaks SQL.

Every write bumps the case's ``version`` first. That ``UPDATE`` locks the case until commit
(a row lock on PostgreSQL, the write lock on SQLite), so writers to one case take turns and a
revision check made after it cannot be overtaken by another writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, delete, func, insert, select, update
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
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StorageUnavailable,
)
from tailoring.storage.tables import answers, cases

AnswerModel = PreferenceAnswer | SocialAnswer | AllianceAnswer
ANSWER_MODELS: dict[Section, type[AnswerModel]] = {
    "preferences": PreferenceAnswer,
    "social": SocialAnswer,
    "alliance": AllianceAnswer,
}
CASE_FIELDS = ("reference", "protocol_id", "sessions_available", "step", "status")
ID_LENGTH = 40  # the width of the protocol_id and item_id columns


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list: a case without its answers, and how many it has."""

    id: int
    reference: str
    protocol_id: str
    sessions_available: int
    step: WalkStep
    status: str
    version: int
    answered: int
    updated_at: datetime


@dataclass(frozen=True)
class StoredCase:
    """A stored case, with the version and revisions an editor passes back when saving."""

    id: int
    version: int
    case: Case
    revisions: dict[tuple[Section, str], int]
    updated_at: datetime


class CaseRepository:
    """Cases and their answers in one SQL database, with optimistic concurrency."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, case: Case) -> int:
        """Store a new case (version 1) with its answers and return its id."""
        _check_id("protocol_id", case.protocol_id)
        for _section, item_id, _answer in _answer_items(case.answers):
            _check_id("item_id", item_id)
        now = _now()
        try:
            with self._transaction() as connection:
                values = {name: getattr(case, name) for name in CASE_FIELDS}
                result = connection.execute(
                    insert(cases).values(**values, version=1, created_at=now, updated_at=now)
                )
                case_id: int = result.inserted_primary_key[0]
                rows = [
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
                if rows:
                    connection.execute(insert(answers), rows)
        except IntegrityError as error:
            raise ReferenceTaken() from error
        return case_id

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
            revision = _check_revision(connection, key, expected_revision)
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
            _check_revision(connection, key, expected_revision)
            connection.execute(delete(answers).where(*key))

    def update_case(self, case_id: int, expected_version: int | None, **fields: Any) -> int:
        """Change case fields other than answers and return the new version."""
        unknown = sorted(set(fields) - set(CASE_FIELDS))
        if unknown:
            raise ValueError(f"cases have no updatable field(s) {', '.join(unknown)}")
        if "protocol_id" in fields:
            _check_id("protocol_id", fields["protocol_id"])
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
        """Copy a case and all its answers under a new reference, active and at the first step."""
        original = self.get(case_id).case.model_dump()
        copy = {**original, "reference": new_reference, "status": "active", "step": "preferences"}
        return self.create(Case.model_validate(copy))

    def delete(self, case_id: int) -> None:
        """Delete a case; its answers go with it."""
        with self._transaction() as connection:
            if connection.execute(delete(cases).where(cases.c.id == case_id)).rowcount == 0:
                raise CaseNotFound()

    def count(self) -> int:
        """How many cases are stored, archived ones included."""
        with self._transaction() as connection:
            return connection.execute(select(func.count()).select_from(cases)).scalar_one()

    def list(self, include_archived: bool = False) -> list[CaseSummary]:
        """Summaries of the cases, most recently changed first, in one query."""
        query = (
            select(
                *(cases.c[name] for name in ("id", *CASE_FIELDS, "version", "updated_at")),
                func.count(answers.c.case_id).label("answered"),
            )
            .select_from(cases.outerjoin(answers))
            .group_by(cases.c.id)
            .order_by(cases.c.updated_at.desc(), cases.c.id.desc())
        )
        if not include_archived:
            query = query.where(cases.c.status == "active")
        with self._transaction() as connection:
            return [CaseSummary(**row._mapping) for row in connection.execute(query)]

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
    fields = {name: row._mapping[name] for name in CASE_FIELDS}
    case = Case.model_validate({**fields, "answers": grouped})
    return StoredCase(
        id=row.id,
        version=row.version,
        case=case,
        revisions={(answer.section, answer.item_id): answer.revision for answer in answer_rows},
        updated_at=row.updated_at,
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


def _check_revision(
    connection: Connection, key: tuple[ColumnElement[bool], ...], expected: int | None
) -> int:
    """The answer's stored revision (0 for none); StaleAnswer if it is not ``expected``."""
    stored: Row[Any] | None = connection.execute(
        select(answers.c.payload, answers.c.revision).where(*key)
    ).one_or_none()
    revision = stored.revision if stored else 0
    if expected is not None and expected != revision:
        raise StaleAnswer(json.loads(stored.payload) if stored else None, revision)
    return revision


def _answer_key(case_id: int, section: Section, item_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one answer row."""
    c = answers.c
    return (c.case_id == case_id, c.section == section, c.item_id == item_id)


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


def _check_id(name: str, value: str) -> None:
    """Refuse ids the database column cannot hold, the same way on every backend."""
    if not 1 <= len(value) <= ID_LENGTH:
        raise ValueError(f"{name} must be 1–{ID_LENGTH} characters long")


def _payload(answer: AnswerModel) -> str:
    """The JSON text stored for an answer."""
    return json.dumps(answer.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)


def _now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
