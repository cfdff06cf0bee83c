"""Migrations against real databases: older schemas keep their cases; the schema is current."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.exc import DBAPIError

from tailoring.storage.audit import GENESIS, ChainCheck
from tailoring.storage.db import alembic_config, build_engine, migrate, upgraded_engine
from tailoring.storage.tables import (
    answers,
    attempt_grades,
    audit_log,
    case_metrics,
    cases,
    flag_events,
    metadata,
    session_corrections,
    sessions,
)
from tests.integration.helpers import (
    make_case,
    make_flag,
    make_grade,
    make_metrics,
    make_session,
    save_metrics,
    stored_flags,
    sync_flags,
)
from tests.store import Store, caseload_rows

CREATED = datetime(2025, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's database that leaves the schema alone."""
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def move_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) the schema to ``revision``."""
    with engine.connect() as connection:
        move = command.downgrade if down else command.upgrade
        move(alembic_config(connection), revision)


def add_first_schema_case(engine: Engine, reference: str) -> int:
    """A case with two answers, written as the code of revision 0001 wrote them."""
    with engine.begin() as connection:
        case_id: int = connection.execute(
            insert(cases).values(
                reference=reference,
                protocol_id="cbt_depression",
                sessions_available=12,
                step="alliance",
                status="active",
                version=4,
                created_at=CREATED,
                updated_at=CREATED,
            )
        ).inserted_primary_key[0]
        for item_id, payload in (("bond", '{"value": 2}'), ("heard", '{"value": null}')):
            connection.execute(
                insert(answers).values(
                    case_id=case_id,
                    section="alliance",
                    item_id=item_id,
                    payload=payload,
                    revision=1,
                    updated_at=CREATED,
                )
            )
    return case_id


def test_upgrading_from_the_first_schema_keeps_every_case(bare_engine: Engine) -> None:
    move_to(bare_engine, "0001")
    first = add_first_schema_case(bare_engine, "OLD-1")
    second = add_first_schema_case(bare_engine, "OLD-2")

    migrate(bare_engine)

    store = Store.on(bare_engine)
    stored = store.cases.get(first)
    assert stored.kind == "case"
    assert stored.scenario_id is None
    assert stored.version == 4
    assert stored.case.anxiety_measure == "gad7"
    assert stored.case.sessions == []
    assert {item: a.value for item, a in stored.case.answers.alliance.items()} == {
        "bond": 2,
        "heard": None,
    }
    assert store.cases.count() == 2
    assert [(s.id, s.answered, s.sessions) for s in store.cases.summaries()] == [
        (second, 2, 0),
        (first, 2, 0),
    ]
    store.sessions.save_session(first, make_session(1), 50.0, "dr.a")
    assert store.cases.get(first).version == 5


def test_downgrading_to_the_first_schema_keeps_cases_and_answers(bare_engine: Engine) -> None:
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case(sessions=[make_session(1)]))
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")

    move_to(bare_engine, "0001", down=True)
    with bare_engine.connect() as connection:
        remaining = connection.execute(select(answers.c.case_id).distinct()).scalars().all()
    assert sorted(remaining) == [case_id, attempt]
    migrate(bare_engine)

    # An attempt becomes a case on the way down: the first schema has no kinds.
    assert store.cases.count() == 2
    assert store.cases.get(case_id).case == make_case()


def test_foreign_keys_are_enforced_after_migrating(engine: Engine) -> None:
    store = Store.on(engine)
    case_id = store.cases.create(make_case())

    store.cases.delete(case_id)

    with engine.connect() as connection:
        assert connection.execute(select(answers)).all() == []


def test_the_migrated_schema_matches_the_tables(database_url: str) -> None:
    engine = upgraded_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def add_second_schema_case(engine: Engine, reference: str) -> int:
    """An archived case, an answer and two sessions, one corrected, as revision 0002 wrote them."""
    with engine.begin() as connection:
        case_id: int = connection.execute(
            insert(cases).values(
                reference=reference,
                protocol_id="cbt_depression",
                sessions_available=12,
                step="report",
                status="archived",
                version=7,
                created_at=CREATED,
                updated_at=CREATED,
                kind="case",
                anxiety_measure="adsm",
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(answers).values(
                case_id=case_id,
                section="alliance",
                item_id="bond",
                payload='{"value": 2}',
                revision=3,
                updated_at=CREATED,
            )
        )
        for session in (make_session(1), make_session(3, note="late — ü")):
            connection.execute(
                insert(sessions).values(
                    case_id=case_id,
                    number=session.number,
                    date=session.date,
                    payload=session.model_dump_json(),
                    fit=55.5,
                    revision=2,
                    recorded_at=CREATED,
                    updated_at=CREATED,
                )
            )
        connection.execute(
            insert(session_corrections).values(
                case_id=case_id,
                number=1,
                old_payload=make_session(1, note="first").model_dump_json(),
                new_payload=make_session(1).model_dump_json(),
                actor="dr.a",
                corrected_at=CREATED,
            )
        )
    return case_id


def test_upgrading_from_the_second_schema_keeps_everything(bare_engine: Engine) -> None:
    move_to(bare_engine, "0002")
    case_id = add_second_schema_case(bare_engine, "OLD-1")
    empty = add_first_schema_case(bare_engine, "OLD-2")
    with bare_engine.begin() as connection:
        attempt = connection.execute(
            insert(cases).values(
                reference="TRY-1",
                protocol_id="cbt_depression",
                sessions_available=8,
                step="alliance",
                status="active",
                version=2,
                created_at=CREATED,
                updated_at=CREATED,
                kind="attempt",
                scenario_id="s1",
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(attempt_grades).values(
                case_id=attempt,
                mark=72.5,
                payload=make_grade().model_dump_json(),
                graded_at=CREATED,
            )
        )

    migrate(bare_engine)

    store = Store.on(bare_engine)
    stored = store.cases.get(case_id)
    assert (stored.version, stored.case.status, stored.case.step) == (7, "archived", "report")
    assert (stored.case.therapist, stored.case.anxiety_measure) == ("local user", "adsm")
    assert stored.case.answers.alliance["bond"].value == 2
    assert stored.case.sessions == [make_session(1), make_session(3, note="late — ü")]
    assert (stored.session_revisions, stored.session_fits) == ({1: 2, 3: 2}, {1: 55.5, 3: 55.5})
    assert [(c.number, c.old["note"], c.actor) for c in store.sessions.corrections(case_id)] == [
        (1, "first", "dr.a")
    ]
    assert store.cases.grade(attempt) == make_grade()
    # The session counts of stored cases are filled in by the migration.
    assert [(row.id, row.sessions, row.last_session) for row in caseload_rows(store, True)] == [
        (case_id, 2, make_session(3).date),
        (empty, 0, None),
    ]
    assert store.caseload.cases_without_metrics(5) == [case_id, empty]
    with bare_engine.connect() as connection:
        assert connection.execute(select(flag_events)).all() == []
    sync_flags(store, case_id, [make_flag("bond_low")], "engine")
    store.supervision.add_note(case_id, "sup.a", "Discussed", "")
    store.cases.delete(case_id)
    assert store.cases.count() == 1


def test_downgrading_to_the_second_schema_keeps_cases_and_sessions(bare_engine: Engine) -> None:
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case(sessions=[make_session(1)], therapist="dr.a"))
    save_metrics(store, case_id, make_metrics())
    store.supervision.add_note(case_id, "sup.a", "Discussed", "")

    move_to(bare_engine, "0002", down=True)
    with bare_engine.connect() as connection:
        assert connection.execute(select(sessions.c.case_id)).scalars().all() == [case_id]
        assert connection.execute(select(answers.c.case_id).distinct()).scalars().all() == [case_id]
    migrate(bare_engine)

    # The therapist is not in the second schema: it comes back as the default.
    assert store.cases.get(case_id).case == make_case(sessions=[make_session(1)])
    [row] = caseload_rows(store)
    assert (row.sessions, row.fit) == (1, None)


def add_third_schema_metrics(engine: Engine, case_id: int, outcome: str) -> None:
    """Caseload figures of a case as revision 0003 wrote them: flags without titles."""
    flags = '[{"id": "bond_low", "severity": "high", "theme": "alliance"}]'
    with engine.begin() as connection:
        connection.execute(
            insert(case_metrics).values(
                case_id=case_id,
                fit=64.5,
                completeness=75.0,
                flags_high=1,
                flags_medium=0,
                flags_low=0,
                alliance_latest=None,
                alliance_trend="steady",
                outcome=outcome,
                sessions_attended=2,
                dropped_after_first=True,
                open_flag_ids=flags,
                computed_at=CREATED,
            )
        )


def test_upgrading_from_the_third_schema_keeps_the_figures(bare_engine: Engine) -> None:
    move_to(bare_engine, "0003")
    computed = add_first_schema_case(bare_engine, "OLD-1")
    pending = add_first_schema_case(bare_engine, "OLD-2")
    recovered = add_first_schema_case(bare_engine, "OLD-3")
    add_third_schema_metrics(bare_engine, computed, "in_progress")
    add_third_schema_metrics(bare_engine, recovered, "recovered")

    migrate(bare_engine)

    store = Store.on(bare_engine)
    rows = {row.id: row for row in caseload_rows(store)}
    for case_id in (computed, recovered):
        row = rows[case_id]
        assert (row.fit, row.completeness, row.alliance_latest, row.alliance_trend) == (
            64.5,
            75.0,
            None,
            "steady",
        )
        assert (row.sessions_attended, row.dropped_after_first, row.computed_at) == (
            2,
            True,
            CREATED,
        )
        assert row.open_flag_ids == ({"id": "bond_low", "severity": "high", "theme": "alliance"},)
        # The new figures say nothing until the engine computes them again.
        assert (row.sessions_recorded, row.treatment_sessions_attended) == (0, 0)
        assert row.caseness_at_start is None
        assert (row.finished, row.recovery, row.reliable_recovery) == (False, False, False)
        assert (row.reliable_improvement, row.deterioration, row.not_on_track) == (
            False,
            False,
            False,
        )
    assert rows[recovered].outcome == "recovered"
    assert rows[pending].computed_at is None
    assert store.caseload.cases_without_metrics(5) == [pending]
    save_metrics(store, computed, make_metrics(recovery=True))
    [row] = [row for row in caseload_rows(store) if row.id == computed]
    assert (row.recovery, row.sessions_recorded) == (True, 6)
    assert row.open_flag_ids == stored_flags(make_metrics())
    # Figures still go with their case once the table was rebuilt.
    store.cases.delete(recovered)
    with bare_engine.connect() as connection:
        owners = connection.execute(select(case_metrics.c.case_id)).scalars().all()
    assert owners == [computed]


def test_downgrading_to_the_third_schema_keeps_the_figures(bare_engine: Engine) -> None:
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case(sessions=[make_session(1)], therapist="dr.a"))
    save_metrics(store, case_id, make_metrics(recovery=True))

    move_to(bare_engine, "0003", down=True)
    with bare_engine.connect() as connection:
        assert connection.execute(select(case_metrics.c.case_id)).scalars().all() == [case_id]
    migrate(bare_engine)

    [row] = caseload_rows(store)
    assert (row.fit, row.outcome, row.sessions_attended) == (71.5, "not_on_track", 4)
    assert (row.recovery, row.sessions_recorded, row.caseness_at_start) == (False, 0, None)
    store.cases.delete(case_id)
    with bare_engine.connect() as connection:
        assert connection.execute(select(case_metrics)).all() == []


def add_unchained_entries(engine: Engine) -> None:
    """Three audit entries as revision 0005 wrote them, before the chain."""
    rows = [
        {"actor": "dr.a", "action": "login", "case_id": None, "case_reference": None},
        {"actor": "dr.a", "action": "created", "case_id": 1, "case_reference": "CASE-001"},
        {"actor": "sup.b", "action": "viewed", "case_id": 1, "case_reference": "CASE-001"},
    ]
    with engine.begin() as connection:
        for minute, row in enumerate(rows):
            at = CREATED.replace(minute=minute, microsecond=250 * minute)
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, case_id, case_reference, detail) "
                    "VALUES (:at, :actor, :action, :case_id, :case_reference, '')"
                ),
                {**row, "at": at},
            )


def test_upgrading_chains_the_entries_already_there(bare_engine: Engine) -> None:
    move_to(bare_engine, "0009")
    add_unchained_entries(bare_engine)
    migrate(bare_engine)

    log = Store.on(bare_engine).audit
    old = log.entries()[::-1]
    assert [e.actor for e in old] == ["dr.a", "dr.a", "sup.b"]
    assert old[0].previous_hash == GENESIS
    assert log.check() == ChainCheck(3, old[-1].id, old[-1].hash)
    added = log.record("dr.a", "answered", 1, "CASE-001", "patient link 1: questionnaire finished")
    assert added.previous_hash == old[-1].hash
    assert log.check().intact
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(delete(audit_log))


def test_downgrading_from_the_chain_keeps_the_entries(bare_engine: Engine) -> None:
    migrate(bare_engine)
    log = Store.on(bare_engine).audit
    log.record("dr.a", "login")
    move_to(bare_engine, "0009", down=True)
    with bare_engine.connect() as connection:
        assert connection.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["dr.a"]
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))

    migrate(bare_engine)
    log.record("dr.a", "code_refused", detail="no link has this code")
    with pytest.raises(RuntimeError, match="stay on revision 0010"):
        move_to(bare_engine, "0009", down=True)
    assert log.check().entries == 2


def test_upgrading_to_the_presenting_problem_keeps_cases_and_records_none(bare_engine) -> None:
    move_to(bare_engine, "0009")
    case_id = add_first_schema_case(bare_engine, "OLD-PROB")

    move_to(bare_engine, "0012")
    with bare_engine.connect() as connection:
        row = connection.execute(
            text("SELECT problem, second_problem FROM cases WHERE id = :id"), {"id": case_id}
        ).one()
    assert tuple(row) == (None, None)

    # The repositories read the latest schema; 0013 adds referral and ending dates only.
    migrate(bare_engine)

    store = Store.on(bare_engine)
    stored = store.cases.get(case_id)
    assert (stored.case.problem, stored.case.second_problem) == (None, None)
    assert stored.case.answers.alliance["bond"].value == 2
    store.cases.update_case(case_id, None, problem="depression", second_problem="panic")
    case = store.cases.get(case_id).case
    assert (case.problem, case.second_problem) == ("depression", "panic")


def test_downgrading_from_the_presenting_problem_keeps_the_case(bare_engine) -> None:
    # The repositories write the latest schema (0013 adds referral and ending dates only).
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case().model_copy(update={"problem": "ptsd"}))

    move_to(bare_engine, "0011", down=True)
    with bare_engine.connect() as connection:
        references = connection.execute(text("SELECT reference FROM cases")).scalars().all()
    assert references == [make_case().reference]

    migrate(bare_engine)
    assert store.cases.get(case_id).case.problem is None


def test_0013_leaves_every_case_open_and_no_course_finished(bare_engine: Engine) -> None:
    """Before 0013 an open case with two treatment sessions was a finished course; after it, a
    case is open until an ending is recorded, and its stored figures say so at once."""
    move_to(bare_engine, "0011")
    case_id = add_first_schema_case(bare_engine, "OLD-1")
    add_third_schema_metrics(bare_engine, case_id, "recovered")
    with bare_engine.begin() as connection:
        connection.execute(
            case_metrics.update().values(finished=True, treatment_sessions_attended=3)
        )

    move_to(bare_engine, "0013")

    stored = Store.on(bare_engine).cases.get(case_id).case
    assert (stored.referral_date, stored.ending_date, stored.ending_reason) == (None, None, None)
    [row] = caseload_rows(Store.on(bare_engine))
    assert (row.finished, row.outcome, row.treatment_sessions_attended) == (False, "recovered", 3)
    with pytest.raises(DBAPIError), bare_engine.begin() as connection:
        connection.execute(cases.update().values(ending_reason="cured"))

    move_to(bare_engine, "0011", down=True)
    with bare_engine.connect() as connection:
        assert connection.execute(select(case_metrics.c.finished)).scalars().all() == [True]
