"""Many cases at once against real databases: imports (all or nothing), loads and figures."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select

from tailoring.model.answers import Answers
from tailoring.storage.caseload import CaseFigures
from tailoring.storage.errors import ReferenceTaken
from tailoring.storage.tables import answers, cases, sessions
from tests.integration.helpers import (
    count_statements,
    make_case,
    make_course,
    make_flag,
    make_metrics,
    make_session,
    save_metrics,
    sync_flags,
)
from tests.store import Store, caseload_rows


def stored_rows(engine: Engine) -> tuple[int, int, int]:
    """How many cases, answers and sessions are stored."""
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (cases, answers, sessions)
        )


def test_imported_cases_round_trip(store: Store, engine: Engine) -> None:
    existing = store.cases.create(make_case("EXISTING"))
    imported = [
        make_case("IMP-1", sessions=make_course(), therapist="dr.a"),
        make_case("IMP-2", answers=Answers()),
        make_case("IMP-3", sessions=[make_session(1)], status="archived", anxiety_measure="adsm"),
    ]

    ids, statements = count_statements(engine, lambda: store.caseload.import_cases(imported))

    # The references looked up, then cases, their ids, answers and sessions: one statement
    # each, not one per row.
    assert statements == 5
    assert len(set(ids)) == 3
    assert existing not in ids
    for case_id, case in zip(ids, imported, strict=True):
        stored = store.cases.get(case_id)
        assert stored.case == case
        assert (stored.version, stored.kind, stored.scenario_id) == (1, "case", None)
        assert set(stored.revisions.values()) <= {1}
        assert set(stored.session_fits.values()) <= {None}
    assert {row.reference: row.sessions for row in caseload_rows(store, True)} == {
        "EXISTING": 0,
        "IMP-1": 6,
        "IMP-2": 0,
        "IMP-3": 1,
    }
    # Imported sessions are saved like any other: corrections start from them.
    store.sessions.save_session(ids[0], make_session(2, note="changed"), None, "dr.a")
    assert [c.old for c in store.sessions.corrections(ids[0])] == [
        make_session(2).model_dump(mode="json")
    ]
    assert store.caseload.import_cases([]) == []


def test_a_taken_reference_imports_nothing(store: Store, engine: Engine) -> None:
    store.cases.create(make_case("TAKEN"))
    before = stored_rows(engine)
    imported = [make_case(f"NEW-{n}", sessions=make_course()) for n in range(3)]

    with pytest.raises(ReferenceTaken) as taken:
        store.caseload.import_cases([*imported, make_case("TAKEN")])

    assert taken.value.reference == "TAKEN"
    assert "TAKEN" in str(taken.value)
    assert stored_rows(engine) == before
    assert [s.reference for s in store.cases.summaries()] == ["TAKEN"]


def test_a_reference_twice_in_one_import_imports_nothing(store: Store, engine: Engine) -> None:
    with pytest.raises(ReferenceTaken) as taken:
        store.caseload.import_cases([make_case("TWICE"), make_case("ONCE"), make_case("TWICE")])

    assert taken.value.reference == "TWICE"
    assert stored_rows(engine) == (0, 0, 0)


def test_an_import_that_does_not_fit_imports_nothing(store: Store, engine: Engine) -> None:
    too_long = make_case("BAD", protocol_id="p" * 41)

    with pytest.raises(ValueError, match="protocol_id"):
        store.caseload.import_cases([make_case("GOOD"), too_long])

    assert stored_rows(engine) == (0, 0, 0)


def test_a_large_import_is_one_transaction_in_batches(store: Store, engine: Engine) -> None:
    case = make_case(sessions=make_course())
    many = [case.model_copy(update={"reference": f"BULK-{n:05d}"}) for n in range(2_500)]

    ids = store.caseload.import_cases(many)

    assert stored_rows(engine) == (2_500, 2_500 * 6, 2_500 * 6)
    for n in (0, 1_234, 2_499):
        assert store.cases.get(ids[n]).case == many[n]
    assert store.caseload.cases_without_metrics(3) == ids[:3]


def test_many_cases_load_in_three_statements_as_they_load_one_by_one(
    store: Store, engine: Engine
) -> None:
    ids = store.caseload.import_cases(
        [make_case(f"MANY-{n}", sessions=make_course()) for n in range(3)]
    )
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")

    loaded, statements = count_statements(
        engine, lambda: store.cases.get_many([ids[2], 404, attempt, ids[0]])
    )

    assert statements == 3
    assert loaded == [store.cases.get(case_id) for case_id in (ids[2], attempt, ids[0])]
    assert store.cases.get_many([]) == []


def test_references_in_use_are_found_among_many(store: Store) -> None:
    store.cases.create(make_case("TAKEN-1"))
    store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")

    many = [f"FREE-{n}" for n in range(1_200)]
    assert store.caseload.taken_references(["TAKEN-1", *many, "TRY-1", "TAKEN-1"]) == {
        "TAKEN-1",
        "TRY-1",
    }
    assert store.caseload.taken_references([]) == set()


def test_figures_of_many_cases_are_stored_as_one_by_one(store: Store, engine: Engine) -> None:
    one, many, other = store.caseload.import_cases([make_case(f"FIG-{n}") for n in range(3)])
    first = (make_flag("bond_low", "high"), make_flag("pref.structure"))
    later = (make_flag("pref.structure"), make_flag("pace_fast", "low"))
    no_fit = make_metrics(fit=None, open_flags=[])

    sync_flags(store, one, first, "dr.a")
    save_metrics(store, one, make_metrics())
    sync_flags(store, one, later, "dr.a")
    save_metrics(store, one, no_fit)
    stored, statements = count_statements(
        engine,
        lambda: store.caseload.save_figures(
            [
                CaseFigures(many, 1, make_metrics(), first),
                CaseFigures(other, 1, make_metrics(fit=12.5), ()),
            ],
            "dr.a",
        ),
    )
    again = store.caseload.save_figures([CaseFigures(many, 1, no_fit, later)], "dr.a")

    assert (stored, again) == ([many, other], [many])
    assert statements < 10
    rows = {row.id: row for row in caseload_rows(store)}
    assert replace(rows[many], id=0, reference="", computed_at=None) == replace(
        rows[one], id=0, reference="", computed_at=None
    )
    assert rows[other].fit == 12.5
    assert [(e.flag_id, e.event, e.actor) for e in store.supervision.flag_history(many)] == [
        (e.flag_id, e.event, e.actor) for e in store.supervision.flag_history(one)
    ]


def test_figures_of_a_case_changed_since_they_were_computed_are_not_stored(
    store: Store,
) -> None:
    kept, changed = store.caseload.import_cases([make_case("KEPT-1"), make_case("CHANGED-1")])
    store.cases.update_case(changed, None, sessions_available=9)
    flags = (make_flag("bond_low", "high"),)

    stored = store.caseload.save_figures(
        [
            CaseFigures(kept, 1, make_metrics(), flags),
            CaseFigures(changed, 1, make_metrics(), flags),
            CaseFigures(404, 1, make_metrics(), flags),
        ],
        "dr.a",
    )

    assert stored == [kept]
    assert {row.id: row.computed_at is not None for row in caseload_rows(store)} == {
        kept: True,
        changed: False,
    }
    assert store.supervision.flag_history(changed) == []
    with pytest.raises(ValueError, match="more than once"):
        store.caseload.save_figures(
            [CaseFigures(kept, 1, make_metrics(), ()), CaseFigures(kept, 1, make_metrics(), ())],
            "dr.a",
        )
