"""The sessions of a case and the corrections made to them, in SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    func,
    insert,
    select,
    update,
)

from tailoring.model.case import (
    Case,
)
from tailoring.model.session import Session
from tailoring.storage.cases import CASE_FIELDS
from tailoring.storage.common import (
    ACTOR_LENGTH,
    check_finite,
    check_id,
    check_revision,
    require_case,
    to_json,
    touch_case,
    utc_now,
)
from tailoring.storage.errors import (
    StaleSession,
)
from tailoring.storage.tables import (
    cases,
    session_corrections,
    sessions,
)


@dataclass(frozen=True)
class Correction:
    """One change to a saved session: what it was, what it became (None: removed), who, when."""

    number: int
    old: dict[str, Any]
    new: dict[str, Any] | None
    actor: str
    at: datetime


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
            old_payload=to_json(old),
            new_payload=to_json(new) if new is not None else None,
            actor=actor,
            corrected_at=now,
        )
    )


def _session_key(case_id: int, number: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one session row."""
    return (sessions.c.case_id == case_id, sessions.c.number == number)


def _only_fills_in(old: Any, new: Any) -> bool:
    """Whether ``new`` keeps every value ``old`` had and only adds answers.

    Answering the items of a session one by one is entry, not correction: only a change to, or
    the removal of, something already recorded is kept as a correction.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return all(key in new and _only_fills_in(value, new[key]) for key, value in old.items())
    return old in (None, "", [], {}) or old == new


class SessionRepository:
    """The sessions of cases and their corrections, in the transaction of ``connection``.

    Saving or removing a session bumps the case's version first (locking the case until
    commit); editors pass back the session's revision they read.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

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
        check_finite("fit", fit)
        check_id("actor", actor, ACTOR_LENGTH)
        key = _session_key(case_id, session.number)
        new = session.model_dump(mode="json")
        now = utc_now()
        touch_case(self._connection, case_id, now)
        old, revision = check_revision(
            self._connection, sessions, key, expected_revision, StaleSession
        )
        _check_session_order(self._connection, case_id, session.number, new)
        values = {
            "date": session.date,
            "payload": to_json(new),
            "fit": fit,
            "revision": revision + 1,
            "updated_at": now,
        }
        if revision:
            self._connection.execute(update(sessions).where(*key).values(**values))
        else:
            self._connection.execute(
                insert(sessions).values(
                    case_id=case_id, number=session.number, recorded_at=now, **values
                )
            )
        if old is not None and not _only_fills_in(old, new):
            _correct(self._connection, case_id, session.number, old, new, actor, now)
        _count_sessions(self._connection, case_id)
        return revision + 1

    def delete_session(
        self,
        case_id: int,
        number: int,
        actor: str,
        expected_revision: int | None = None,
    ) -> None:
        """Delete one session, if any, recording the removal as a correction by ``actor``."""
        check_id("actor", actor, ACTOR_LENGTH)
        key = _session_key(case_id, number)
        now = utc_now()
        touch_case(self._connection, case_id, now)
        old, _ = check_revision(self._connection, sessions, key, expected_revision, StaleSession)
        if old is not None:
            self._connection.execute(delete(sessions).where(*key))
            _correct(self._connection, case_id, number, old, None, actor, now)
            _count_sessions(self._connection, case_id)

    def corrections(self, case_id: int) -> list[Correction]:
        """Every correction to the case's saved sessions, oldest first."""
        c = session_corrections.c
        require_case(self._connection, case_id)
        rows = self._connection.execute(
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
