"""Sessions against real databases: round trips, the case list, revisions and corrections."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tailoring.model.answers import AllianceAnswer
from tailoring.model.case import case_problems
from tailoring.model.content import ContentLibrary
from tailoring.model.session import Session
from tailoring.storage.errors import CaseNotFound, StaleSession
from tailoring.storage.tables import session_corrections, sessions
from tests.integration.helpers import (
    FIRST_SESSION,
    count_statements,
    make_case,
    make_course,
    make_session,
    run_together,
)
from tests.store import Store, case_id_of, repository_methods


def test_a_case_with_sessions_round_trips(store: Store, content: ContentLibrary) -> None:
    case = make_case(sessions=make_course())
    # The sessions are valid case-file data; only the test case's walk-through answers are not.
    problems = case_problems(case, content)
    assert [p for p in problems if p.startswith(("sessions", "anxiety"))] == []
    case_id = store.cases.create(case)

    stored = store.cases.get(case_id)

    assert stored.case == case
    assert stored.case.sessions[0].measures["wsas"] == {
        "wsas_1": "na",
        "wsas_2": 8,
        "wsas_3": 0,
        "wsas_4": None,
    }
    assert {s.attendance for s in stored.case.sessions} == {
        "attended",
        "did_not_attend",
        "cancelled",
    }
    assert {s.kind for s in stored.case.sessions} == {"assessment", "treatment", "follow_up"}
    assert stored.session_revisions == {1: 1, 2: 1, 3: 1, 5: 1, 6: 1, 9: 1}
    assert stored.session_fits == dict.fromkeys((1, 2, 3, 5, 6, 9))
    assert (stored.kind, stored.scenario_id) == ("case", None)
    assert case_id_of("CASE-001", store) == stored.id


def test_the_anxiety_measure_is_stored_and_can_be_changed(store: Store) -> None:
    default = store.cases.create(make_case("DEFAULT"))
    specific = store.cases.create(make_case("SPECIFIC", anxiety_measure="adsm"))

    assert store.cases.get(default).case.anxiety_measure == "gad7"
    assert store.cases.get(specific).case.anxiety_measure == "adsm"
    store.cases.update_case(default, 1, anxiety_measure="pdss")
    assert store.cases.get(default).case.anxiety_measure == "pdss"
    with pytest.raises(ValueError, match="anxiety_measure"):
        store.cases.update_case(default, None, anxiety_measure="m" * 41)
    with pytest.raises(ValueError, match="anxiety_measure"):
        store.cases.create(make_case("TOO-LONG", anxiety_measure="m" * 41))


def test_list_counts_sessions_and_finds_the_last_in_one_query(store: Store, engine: Engine) -> None:
    course = store.cases.create(make_case("COURSE", sessions=make_course()))
    fresh = store.cases.create(make_case("FRESH"))
    store.sessions.save_session(fresh, make_session(1), 61.0, "clinician")

    summaries, statements = count_statements(engine, store.cases.summaries)

    assert statements == 1
    by_id = {s.id: s for s in summaries}
    assert (by_id[course].sessions, by_id[course].answered) == (6, 6)
    assert by_id[course].last_session == FIRST_SESSION + datetime.timedelta(weeks=8)
    assert (by_id[fresh].sessions, by_id[fresh].last_session) == (1, FIRST_SESSION)
    empty = store.cases.create(make_case("EMPTY"))
    assert {(s.id, s.sessions, s.last_session) for s in store.cases.summaries()} >= {
        (empty, 0, None)
    }


def test_save_session_inserts_then_records_a_correction(store: Store) -> None:
    case_id = store.cases.create(make_case())

    assert store.sessions.save_session(case_id, make_session(1), 55.5, "dr.a", 0) == 1
    assert store.sessions.corrections(case_id) == []
    changed = make_session(1, note="Rescheduled — ü", alliance={"bond": AllianceAnswer(value=4)})
    assert store.sessions.save_session(case_id, changed, 60.0, "dr.b", 1) == 2

    stored = store.cases.get(case_id)
    assert stored.case.sessions == [changed]
    assert (stored.session_revisions, stored.session_fits) == ({1: 2}, {1: 60.0})
    assert stored.version == 3
    [correction] = store.sessions.corrections(case_id)
    assert correction.number == 1
    assert correction.old == make_session(1).model_dump(mode="json")
    assert correction.new == changed.model_dump(mode="json")
    assert correction.actor == "dr.b"
    assert correction.at.tzinfo is not None
    assert correction.at <= stored.updated_at


def test_saving_the_same_session_again_records_no_correction(
    store: Store,
) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1)]))

    assert store.sessions.save_session(case_id, make_session(1), 70.0, "dr.a", 1) == 2

    assert store.sessions.corrections(case_id) == []
    assert store.cases.get(case_id).session_fits == {1: 70.0}


def test_outdated_session_is_refused_with_what_is_stored_now(
    store: Store, other_store: Store
) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1)]))
    seen = other_store.cases.get(case_id).session_revisions[1]
    mine = make_session(1, note="first editor's note")
    theirs = make_session(1, note="second editor's note")

    assert store.sessions.save_session(case_id, mine, None, "first", seen) == seen + 1
    with pytest.raises(StaleSession) as stale:
        other_store.sessions.save_session(case_id, theirs, None, "second", seen)

    assert stale.value.current == mine.model_dump(mode="json")
    assert stale.value.revision == seen + 1
    assert "note" not in str(stale.value)
    assert "Someone else changed this session" in str(stale.value)
    assert store.cases.get(case_id).case.sessions == [mine]
    assert [c.actor for c in store.sessions.corrections(case_id)] == ["first"]
    with pytest.raises(StaleSession) as absent:
        other_store.sessions.save_session(case_id, make_session(2), None, "second", 3)
    assert (absent.value.current, absent.value.revision) == (None, 0)


def test_two_editors_adding_the_same_session_collide(store: Store) -> None:
    case_id = store.cases.create(make_case())
    outcomes: list[str] = []

    def add(note: str) -> None:
        try:
            store.sessions.save_session(case_id, make_session(1, note=note), None, note, 0)
            outcomes.append("saved")
        except StaleSession:
            outcomes.append("stale")

    run_together(add, [f"editor {n}" for n in range(5)])

    assert sorted(outcomes) == ["saved"] + ["stale"] * 4
    stored = store.cases.get(case_id)
    assert stored.session_revisions == {1: 1}
    assert stored.version == 2
    assert store.sessions.corrections(case_id) == []


def test_delete_session_records_the_removal(store: Store) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1), make_session(2)]))

    with pytest.raises(StaleSession):
        store.sessions.delete_session(case_id, 2, "dr.a", expected_revision=2)
    store.sessions.delete_session(case_id, 2, "dr.a", expected_revision=1)
    store.sessions.delete_session(case_id, 7, "dr.a")

    stored = store.cases.get(case_id)
    assert stored.case.sessions == [make_session(1)]
    assert stored.session_revisions == {1: 1}
    assert stored.version == 3
    [removal] = store.sessions.corrections(case_id)
    assert (removal.number, removal.new, removal.actor) == (2, None, "dr.a")
    assert removal.old == make_session(2).model_dump(mode="json")


def test_corrections_are_kept_in_order(store: Store) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1)]))

    for n, note in enumerate(["one", "two", "three"], start=1):
        store.sessions.save_session(case_id, make_session(1, note=note), None, f"actor {n}")
    store.sessions.delete_session(case_id, 1, "actor 4")

    history = store.sessions.corrections(case_id)
    assert [c.actor for c in history] == ["actor 1", "actor 2", "actor 3", "actor 4"]
    assert [c.new["note"] if c.new else None for c in history] == ["one", "two", "three", None]
    assert [c.old["note"] for c in history] == [make_session(1).note, "one", "two", "three"]
    assert [c.at for c in history] == sorted(c.at for c in history)


def test_corrections_cannot_be_changed_but_go_with_their_case(store: Store, engine: Engine) -> None:
    doomed = store.cases.create(make_case("DOOMED", sessions=[make_session(1)]))
    kept = store.cases.create(make_case("KEPT", sessions=[make_session(1)]))
    for case_id in (doomed, kept):
        store.sessions.save_session(case_id, make_session(1, note="changed"), None, "dr.a")

    # Repositories read corrections and append them while saving; nothing else touches them.
    public = repository_methods(store)
    assert {name for name in public if "correction" in name} == {"corrections"}
    store.cases.delete(doomed)

    with pytest.raises(CaseNotFound):
        store.sessions.corrections(doomed)
    assert len(store.sessions.corrections(kept)) == 1
    with engine.connect() as connection:
        for table in (sessions, session_corrections):
            owners = connection.execute(select(table.c.case_id).distinct()).scalars().all()
            assert owners == [kept]


def test_save_session_refuses_what_would_spoil_the_case(store: Store) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1), make_session(3)]))
    early = make_session(2, date=FIRST_SESSION - datetime.timedelta(days=1))
    late = make_session(2, date=FIRST_SESSION + datetime.timedelta(weeks=9))
    bad_arguments: list[tuple[Any, ...]] = [
        (early, None, "dr.a"),
        (late, None, "dr.a"),
        (make_session(2), float("nan"), "dr.a"),
        (make_session(2), None, ""),
        (make_session(2), None, "a" * 81),
        (make_case(), None, "dr.a"),
    ]

    for arguments in bad_arguments:
        with pytest.raises(ValueError):
            store.sessions.save_session(case_id, *arguments)
    with pytest.raises(ValueError, match="actor"):
        store.sessions.delete_session(case_id, 1, "")
    with pytest.raises(CaseNotFound):
        store.sessions.save_session(404, make_session(1), None, "dr.a")
    with pytest.raises(CaseNotFound):
        store.sessions.delete_session(404, 1, "dr.a")

    stored = store.cases.get(case_id)
    assert stored.version == 1
    assert [s.number for s in stored.case.sessions] == [1, 3]
    assert store.sessions.save_session(case_id, make_session(2), None, "a" * 80) == 1


def test_duplicate_copies_sessions_and_their_fits_but_not_corrections(
    store: Store, engine: Engine
) -> None:
    original = store.cases.create(make_case("ORIGINAL", sessions=make_course()))
    store.sessions.save_session(original, make_session(2, note="corrected"), 48.5, "dr.a")

    copy = store.cases.duplicate(original, "COPY")

    stored = store.cases.get(copy)
    assert stored.case.sessions == store.cases.get(original).case.sessions
    assert stored.session_fits == {1: None, 2: 48.5, 3: None, 5: None, 6: None, 9: None}
    assert set(stored.session_revisions.values()) == {1}
    assert store.sessions.corrections(copy) == []
    with engine.connect() as connection:
        stored_sessions = connection.execute(select(func.count()).select_from(sessions))
        assert stored_sessions.scalar_one() == 12


def test_answering_new_items_is_entry_and_changing_one_is_a_correction(
    store: Store,
) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1)]))
    base = make_session(1).model_dump(mode="json")
    filled = {**base, "alliance": {**base["alliance"], "heard": {"value": 2}}}
    filled["measures"]["phq9"]["phq9_9"] = 1  # was not answered yet
    store.sessions.save_session(case_id, Session.model_validate(filled), None, "dr.a")
    assert store.sessions.corrections(case_id) == []
    changed = {**filled, "alliance": {**filled["alliance"], "heard": {"value": 4}}}
    store.sessions.save_session(case_id, Session.model_validate(changed), None, "dr.a")
    [correction] = store.sessions.corrections(case_id)
    assert correction.old["alliance"]["heard"] == {"value": 2}
    assert correction.new["alliance"]["heard"] == {"value": 4}
