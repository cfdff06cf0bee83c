"""Trainees' attempts against real databases: kept apart from cases, graded and listed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from tailoring.storage.errors import CaseNotFound
from tailoring.storage.tables import attempt_grades
from tests.integration.helpers import count_statements, make_case, make_grade, make_session
from tests.store import Store


def test_attempts_and_cases_are_kept_apart(store: Store) -> None:
    case_id = store.cases.create(make_case("CASE-1"))
    archived = store.cases.create(make_case("CASE-2", status="archived"))
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="ipt_bereavement")
    old_attempt = store.cases.create(
        make_case("TRY-2", status="archived"), kind="attempt", scenario_id="ipt_bereavement"
    )

    assert [s.id for s in store.cases.summaries()] == [case_id]
    assert {s.id for s in store.cases.summaries(include_archived=True)} == {case_id, archived}
    [summary] = store.cases.summaries(kind="attempt")
    assert (summary.id, summary.kind, summary.scenario_id) == (
        attempt,
        "attempt",
        "ipt_bereavement",
    )
    assert {s.id for s in store.cases.summaries(True, kind="attempt")} == {attempt, old_attempt}
    assert (store.cases.count(), store.cases.count("attempt")) == (2, 2)
    stored = store.cases.get(attempt)
    assert (stored.kind, stored.scenario_id) == ("attempt", "ipt_bereavement")


def test_unknown_kinds_and_long_scenario_ids_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="kind"):
        store.cases.create(make_case(), kind="draft")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        store.cases.summaries(kind="draft")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        store.cases.count("draft")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scenario_id"):
        store.cases.create(make_case(), kind="attempt", scenario_id="s" * 41)
    assert store.cases.count() + store.cases.count("attempt") == 0


def test_duplicate_keeps_an_attempt_an_attempt(store: Store) -> None:
    attempt = store.cases.create(
        make_case("TRY-1", sessions=[make_session(1)]), kind="attempt", scenario_id="dit_x"
    )

    copy = store.cases.get(store.cases.duplicate(attempt, "TRY-1-COPY"))

    assert (copy.kind, copy.scenario_id) == ("attempt", "dit_x")
    assert copy.case.sessions == [make_session(1)]
    assert store.cases.count() == 0


def test_grades_round_trip_and_are_replaced(store: Store) -> None:
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")

    assert store.cases.grade(attempt) is None
    store.cases.save_grade(attempt, make_grade("s1", 72.5))
    assert store.cases.grade(attempt) == make_grade("s1", 72.5)
    store.cases.save_grade(attempt, make_grade("s1", 90.0))

    assert store.cases.grade(attempt) == make_grade("s1", 90.0)
    assert store.cases.get(attempt).version == 3
    with pytest.raises(CaseNotFound):
        store.cases.grade(404)
    with pytest.raises(CaseNotFound):
        store.cases.save_grade(404, make_grade())


def test_only_attempts_are_graded(store: Store) -> None:
    case_id = store.cases.create(make_case())

    with pytest.raises(ValueError, match="attempt"):
        store.cases.save_grade(case_id, make_grade())

    assert store.cases.grade(case_id) is None
    assert store.cases.get(case_id).version == 1


def test_list_attempts_newest_first_with_marks_in_one_query(store: Store, engine: Engine) -> None:
    store.cases.create(make_case("CASE-1"))
    first = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")
    other = store.cases.create(make_case("TRY-2"), kind="attempt", scenario_id="s2")
    ungraded = store.cases.create(make_case("TRY-3"), kind="attempt", scenario_id="s1")
    store.cases.save_grade(first, make_grade("s1", 64.0))
    store.cases.save_grade(other, make_grade("s2", 81.25))

    attempts, statements = count_statements(engine, store.cases.list_attempts)

    assert statements == 1
    assert [(a.id, a.reference, a.scenario_id, a.mark) for a in attempts] == [
        (ungraded, "TRY-3", "s1", None),
        (other, "TRY-2", "s2", 81.25),
        (first, "TRY-1", "s1", 64.0),
    ]
    assert attempts[0].graded_at is None
    assert attempts[2].graded_at is not None
    assert attempts[2].graded_at >= attempts[2].created_at
    assert attempts[2].updated_at == attempts[2].graded_at
    of_s1, statements = count_statements(engine, lambda: store.cases.list_attempts("s1"))
    assert statements == 1
    assert [a.id for a in of_s1] == [ungraded, first]
    assert store.cases.list_attempts("nothing") == []


def test_a_grade_goes_with_its_attempt(store: Store, engine: Engine) -> None:
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")
    store.cases.save_grade(attempt, make_grade("s1"))

    store.cases.delete(attempt)

    assert store.cases.list_attempts() == []
    with engine.connect() as connection:
        grades = connection.execute(select(func.count()).select_from(attempt_grades))
        assert grades.scalar_one() == 0
