"""The audit log on real databases: appended, filtered, and never changed or removed."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from tailoring.storage.audit import AuditEntry, AuditLog
from tailoring.storage.repository import CaseRepository
from tailoring.storage.tables import audit_log
from tests.integration.helpers import make_case

START = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def ticking(start: datetime = START) -> Iterator[datetime]:
    """A clock that moves on a minute each time it is read."""
    moment = start
    while True:
        yield moment
        moment += timedelta(minutes=1)


@pytest.fixture
def log(engine: Engine) -> AuditLog:
    clock = ticking()
    return AuditLog(engine, clock=lambda: next(clock))


@pytest.fixture
def filled(log: AuditLog) -> list[AuditEntry]:
    """Eight entries, a minute apart from START, about two cases and two logins."""
    return [
        log.record("dr.a", "login", detail="password"),
        log.record("dr.a", "created", 1, "CASE-001"),
        log.record("dr.a", "changed", 1, "CASE-001", "session 3"),
        log.record("sup.b", "viewed", 1, "CASE-001"),
        log.record("dr.a", "created", 2, "CASE-002"),
        log.record("sup.b", "exported", 2, "CASE-002", "format: pdf"),
        log.record("(unknown username)", "login_failed", detail="no such account"),
        log.record("command line", "account_changed", detail="added dr.c: therapist"),
    ]


def test_an_entry_is_appended_and_read_back(log: AuditLog) -> None:
    entry = log.record("dr.a", "changed", 7, "CASE-007", "answers: alliance")
    assert (entry.at, entry.actor, entry.action) == (START, "dr.a", "changed")
    assert (entry.case_id, entry.case_reference, entry.detail) == (
        7,
        "CASE-007",
        "answers: alliance",
    )
    assert log.entries() == [entry]


def test_entries_come_newest_first_and_filter(log: AuditLog, filled: list[AuditEntry]) -> None:
    assert log.entries() == filled[::-1]
    assert log.entries(limit=2) == filled[:-3:-1]
    assert log.entries(actor="sup.b") == [filled[5], filled[3]]
    assert log.entries(action="created") == [filled[4], filled[1]]
    assert log.entries(case_reference="CASE-001") == [filled[3], filled[2], filled[1]]
    assert log.entries(case_ids=[2]) == [filled[5], filled[4]]
    assert log.entries(case_ids=[]) == []
    since, until = START + timedelta(minutes=2), START + timedelta(minutes=5)
    assert log.entries(since=since, until=until) == [filled[4], filled[3], filled[2]]
    assert log.entries(actor="dr.a", case_ids=[1, 2], since=since) == [filled[4], filled[2]]
    assert log.entries(limit=None) == filled[::-1]


def test_the_log_has_no_way_to_change_or_remove_an_entry() -> None:
    public = {name for name, _ in inspect.getmembers(AuditLog) if not name.startswith("_")}
    assert public == {"record", "entries"}


@pytest.mark.parametrize(
    "statement",
    [
        update(audit_log).values(actor="someone else"),
        delete(audit_log),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_the_log(
    engine: Engine, log: AuditLog, filled: list[AuditEntry], statement
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(statement)
    assert log.entries() == filled[::-1]


def test_the_database_refuses_to_empty_the_log(
    engine: Engine, log: AuditLog, filled: list[AuditEntry]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_log"))
    assert len(log.entries()) == len(filled)


def test_entries_about_a_case_outlive_it(engine: Engine, log: AuditLog) -> None:
    repository = CaseRepository(engine)
    case_id = repository.create(make_case())
    created = log.record("dr.a", "created", case_id, "CASE-001")
    repository.delete(case_id)
    deleted = log.record("dr.a", "deleted", case_id, "CASE-001")
    assert log.entries(case_ids=[case_id]) == [deleted, created]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "edited"}, "action must be one of"),
        ({"actor": ""}, "actor must be"),
        ({"actor": "x" * 81}, "actor must be"),
        ({"reference": "R" * 33}, "reference must be"),
        ({"detail": "emailed jo@example.org"}, "fixed phrase"),
        ({"detail": "born 01/02/1980"}, "fixed phrase"),
        ({"detail": "call +44 7700 900123"}, "fixed phrase"),
        ({"detail": "note\nwith a new line"}, "fixed phrase"),
        ({"detail": "x" * 201}, "fixed phrase"),
    ],
)
def test_bad_entries_are_refused_before_the_database(
    engine: Engine, log: AuditLog, fields: dict[str, str], message: str
) -> None:
    entry = {"actor": "dr.a", "action": "viewed", "reference": "CASE-001", **fields}
    with pytest.raises(ValueError, match=message):
        log.record(**entry)  # type: ignore[arg-type]
    with engine.connect() as connection:
        assert connection.execute(select(audit_log)).all() == []


def test_a_limit_is_at_least_one(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        log.entries(limit=0)


def test_the_real_clock_gives_aware_utc_times(engine: Engine) -> None:
    before = datetime.now(UTC)
    entry = AuditLog(engine).record("dr.a", "login")
    [stored] = AuditLog(engine).entries()
    assert stored == entry
    assert before <= stored.at <= datetime.now(UTC)
