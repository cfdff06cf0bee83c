"""The audit log on real databases: appended, filtered, never changed or removed by the app, and
chained, so changes made by the tables' owner show."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from tailoring.storage.audit import GENESIS, AuditEntry, AuditLog, ChainCheck, entry_hash
from tailoring.storage.db import make_engine, upgraded_engine
from tailoring.storage.tables import audit_log
from tests.integration.helpers import make_case
from tests.store import Committing, Store

START = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def ticking(start: datetime = START) -> Iterator[datetime]:
    """A clock that moves on a minute each time it is read."""
    moment = start
    while True:
        yield moment
        moment += timedelta(minutes=1)


@pytest.fixture
def log(engine: Engine) -> Committing:
    clock = ticking()
    return Committing(
        Store.on(engine).unit, lambda uow: AuditLog(uow.connection, lambda: next(clock))
    )


@pytest.fixture
def filled(log: Committing) -> list[AuditEntry]:
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


def test_an_entry_is_appended_and_read_back(log: Committing) -> None:
    entry = log.record("dr.a", "changed", 7, "CASE-007", "answers: alliance")
    assert (entry.at, entry.actor, entry.action) == (START, "dr.a", "changed")
    assert (entry.case_id, entry.case_reference, entry.detail) == (
        7,
        "CASE-007",
        "answers: alliance",
    )
    assert log.entries() == [entry]


def test_entries_come_newest_first_and_filter(log: Committing, filled: list[AuditEntry]) -> None:
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
    assert public == {"record", "entries", "check"}


@pytest.mark.parametrize(
    "statement",
    [
        update(audit_log).values(actor="someone else"),
        delete(audit_log),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_the_log(
    engine: Engine, log: Committing, filled: list[AuditEntry], statement
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(statement)
    assert log.entries() == filled[::-1]


def test_the_database_refuses_to_empty_the_log(
    engine: Engine, log: Committing, filled: list[AuditEntry]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_log"))
    assert len(log.entries()) == len(filled)


def test_entries_about_a_case_outlive_it(engine: Engine, log: Committing) -> None:
    store = Store.on(engine)
    case_id = store.cases.create(make_case())
    created = log.record("dr.a", "created", case_id, "CASE-001")
    store.cases.delete(case_id)
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
    engine: Engine, log: Committing, fields: dict[str, str], message: str
) -> None:
    entry = {"actor": "dr.a", "action": "viewed", "reference": "CASE-001", **fields}
    with pytest.raises(ValueError, match=message):
        log.record(**entry)  # type: ignore[arg-type]
    with engine.connect() as connection:
        assert connection.execute(select(audit_log)).all() == []


def test_a_limit_is_at_least_one(log: Committing) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        log.entries(limit=0)


def test_the_real_clock_gives_aware_utc_times(engine: Engine) -> None:
    before = datetime.now(UTC)
    entry = Store.on(engine).audit.record("dr.a", "login")
    [stored] = Store.on(engine).audit.entries()
    assert stored == entry
    assert before <= stored.at <= datetime.now(UTC)


# The hash chain ---------------------------------------------------------------------------------


def release_the_log(connection: Connection) -> None:
    """What the owner of the tables can do: lift the append-only rule."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))


def tamper(engine: Engine, *statements) -> None:
    with engine.begin() as connection:
        release_the_log(connection)
        for statement in statements:
            connection.execute(statement)


def test_each_entry_is_chained_to_the_one_before(log: Committing, filled: list[AuditEntry]) -> None:
    assert filled[0].previous_hash == GENESIS
    for before, entry in itertools.pairwise(filled):
        assert entry.previous_hash == before.hash
    assert log.check() == ChainCheck(len(filled), filled[-1].id, filled[-1].hash)
    assert log.check().intact


def test_an_empty_log_is_intact(log: Committing) -> None:
    assert log.check() == ChainCheck(0, None, GENESIS)


def test_the_hash_covers_the_documented_fields_in_canonical_form() -> None:
    # docs/team-mode.md gives this serialisation; changing it breaks every chain already kept.
    fields = {
        "previous_hash": GENESIS,
        "at": datetime(2026, 12, 9, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        "actor": "dr.ä",
        "action": "changed",
        "case_id": 7,
        "case_reference": "CASE-007",
        "detail": "session 3",
    }
    canonical = (
        '{"action":"changed","actor":"dr.\\u00e4","at":"2026-12-09T09:00:00.123456+00:00",'
        '"case_id":7,"case_reference":"CASE-007","detail":"session 3",'
        f'"previous_hash":"{GENESIS}"}}'
    )
    assert entry_hash(fields) == hashlib.sha256(canonical.encode("ascii")).hexdigest()
    assert entry_hash({**fields, "id": 99, "hash": "x"}) == entry_hash(fields)
    for name, other in (("case_id", None), ("detail", "session 4"), ("previous_hash", "1" * 64)):
        assert entry_hash({**fields, name: other}) != entry_hash(fields)


@pytest.mark.parametrize(
    ("statements", "broken", "checked", "words"),
    [
        (lambda ids: [delete(audit_log).where(audit_log.c.id == ids[3])], 4, 3, "was deleted"),
        (lambda ids: [delete(audit_log).where(audit_log.c.id == ids[0])], 1, 0, "before it"),
        (
            lambda ids: [update(audit_log).where(audit_log.c.id == ids[5]).values(detail="")],
            5,
            5,
            "was changed",
        ),
        (
            lambda ids: [update(audit_log).where(audit_log.c.id == ids[2]).values(actor="x.y")],
            2,
            2,
            "was changed",
        ),
    ],
    ids=["deleted-in-the-middle", "deleted-first", "detail-changed", "actor-changed"],
)
def test_tampering_by_the_owner_breaks_the_chain_at_the_first_entry_it_touched(
    engine: Engine,
    log: Committing,
    filled: list[AuditEntry],
    statements,
    broken: int,
    checked: int,
    words: str,
) -> None:
    ids = [entry.id for entry in filled]
    tamper(engine, *statements(ids))
    check = log.check()
    assert not check.intact
    assert check.broken_id == ids[broken]
    assert words in check.problem
    assert check.entries == checked


def test_a_deleted_end_is_found_only_against_a_recorded_entry(
    engine: Engine, log: Committing, filled: list[AuditEntry]
) -> None:
    recorded = (filled[-1].id, filled[-1].hash)
    tamper(engine, delete(audit_log).where(audit_log.c.id >= filled[-2].id))
    assert log.check().intact  # the chain alone cannot tell
    check = log.check(expected=recorded)
    assert check.broken_id == filled[-1].id
    assert f"ends at entry {filled[-3].id}" in check.problem


def rewrite(engine: Engine, entries: list[AuditEntry], previous: str, detail: str) -> None:
    """What whoever can write the table can do: change an entry and hash everything after it."""
    rewrites = []
    for entry in entries:
        fields = {**vars(entry), "previous_hash": previous}
        if entry is entries[0]:
            fields["detail"] = detail
        previous = entry_hash(fields)
        rewrites.append(
            update(audit_log)
            .where(audit_log.c.id == entry.id)
            .values(detail=fields["detail"], previous_hash=fields["previous_hash"], hash=previous)
        )
    # From the end, so no two rows follow the same hash on the way.
    tamper(engine, *reversed(rewrites))


def test_a_rewritten_chain_is_found_against_a_recorded_entry(
    engine: Engine, log: Committing, filled: list[AuditEntry]
) -> None:
    recorded = (filled[-1].id, filled[-1].hash)
    rewrite(engine, filled[1:], filled[0].hash, "nothing to see")
    assert log.check().intact
    check = log.check(expected=recorded)
    assert check.broken_id == recorded[0]
    assert "rewritten" in check.problem


def test_a_recorded_entry_deleted_and_the_chain_rewritten_is_found(
    engine: Engine, log: Committing, filled: list[AuditEntry]
) -> None:
    recorded = (filled[3].id, filled[3].hash)
    tamper(engine, delete(audit_log).where(audit_log.c.id == filled[3].id))
    rewrite(engine, filled[4:], filled[2].hash, filled[4].detail)
    assert log.check().intact
    check = log.check(expected=recorded)
    assert check.broken_id == recorded[0]
    assert "rewritten without it" in check.problem


def test_two_entries_cannot_follow_the_same_one(
    engine: Engine, log: Committing, filled: list[AuditEntry]
) -> None:
    fork = {**vars(filled[-1]), "previous_hash": filled[-1].previous_hash}
    del fork["id"]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(audit_log).values(fork))


def write_entries(url: str, writer: int, count: int) -> None:
    """One app process writing ``count`` entries through its own engine."""
    engine = make_engine(url)
    log = Store.on(engine).audit
    for number in range(count):
        log.record(f"writer.{writer}", "viewed", number, f"CASE-{number:03}")
    engine.dispose()


def test_concurrent_app_processes_keep_one_chain(database_url: str) -> None:
    upgraded_engine(database_url).dispose()  # migrated once, before the race
    writers, each = 3, 30
    with ProcessPoolExecutor(writers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(write_entries, database_url, w, each) for w in range(writers)]
        for job in jobs:
            job.result()
    engine = make_engine(database_url)
    check = Store.on(engine).audit.check()
    engine.dispose()
    assert check.intact, check.problem
    assert check.entries == writers * each
