"""The caseload against real databases: therapists, stored figures, and one query for all."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import Engine, func, select

from tailoring.engine.caseload import FRAME_COLUMNS
from tailoring.model.caseload import OpenFlag
from tailoring.storage.caseload import CASELOAD_FIELDS, METRICS_FIELDS, CaseFigures, open_flags
from tailoring.storage.tables import case_metrics
from tests.integration.helpers import (
    FIRST_SESSION,
    count_statements,
    make_case,
    make_course,
    make_metrics,
    make_session,
    save_metrics,
    stored_flags,
)
from tests.store import CaseloadRow, Store, caseload_columns, caseload_rows

# The figures added in revision 0004, with values unlike those of make_metrics.
NEW_FIGURES = {
    "sessions_recorded": 11,
    "treatment_sessions_attended": 7,
    "caseness_at_start": False,
    "finished": False,
    "recovery": True,
    "reliable_recovery": True,
    "reliable_improvement": False,
    "deterioration": True,
    "not_on_track": False,
}


def test_the_therapist_round_trips(store: Store) -> None:
    case_id = store.cases.create(make_case("MINE-1", therapist="Dr Ø. Okafor"))
    default = store.cases.create(make_case("DEFAULT-1"))

    assert store.cases.get(case_id).case.therapist == "Dr Ø. Okafor"
    assert store.cases.get(default).case.therapist == "local user"
    assert {s.reference: s.therapist for s in store.cases.summaries()} == {
        "MINE-1": "Dr Ø. Okafor",
        "DEFAULT-1": "local user",
    }
    store.cases.update_case(case_id, 1, therapist="t.khan")
    assert store.cases.get(case_id).case.therapist == "t.khan"
    copy = store.cases.duplicate(case_id, "MINE-2")
    assert store.cases.get(copy).case.therapist == "t.khan"
    with pytest.raises(ValueError, match="therapist"):
        store.cases.update_case(case_id, None, therapist="")
    with pytest.raises(ValueError, match="therapist"):
        store.cases.update_case(case_id, None, therapist="t" * 81)
    assert store.cases.get(case_id).version == 2


def test_the_caseload_is_one_query_with_and_without_figures(store: Store, engine: Engine) -> None:
    computed = store.cases.create(make_case("COMPUTED", sessions=make_course()))
    pending = store.cases.create(make_case("PENDING"))
    save_metrics(store, computed, make_metrics())

    columns, statements = count_statements(
        engine, lambda: store.caseload.caseload_columns(["id", "fit"], include_archived=True)
    )
    rows = caseload_rows(store)

    assert statements == 1  # the app's read of the caseload: the cases with figures
    assert columns == {"id": [computed], "fit": [71.5]}
    assert [row.id for row in rows] == [computed, pending]
    first, second = rows
    assert (first.reference, first.therapist, first.protocol_id, first.status) == (
        "COMPUTED",
        "local user",
        "cbt-depression",
        "active",
    )
    assert (first.sessions, first.last_session) == (6, FIRST_SESSION + datetime.timedelta(weeks=8))
    assert (first.fit, first.completeness, first.alliance_latest) == (71.5, 80.0, 62.5)
    assert (first.flags_high, first.flags_medium, first.flags_low) == (1, 1, 0)
    assert (first.alliance_trend, first.outcome, first.sessions_attended) == (
        "down",
        "not_on_track",
        4,
    )
    assert first.dropped_after_first is False
    assert first.open_flag_ids == stored_flags(make_metrics())
    assert first.sessions_available == 16
    assert {name: getattr(first, name) for name in NEW_FIGURES} == {
        name: getattr(make_metrics(), name) for name in NEW_FIGURES
    }
    assert first.computed_at is not None
    assert first.computed_at.tzinfo is not None
    assert first.updated_at == store.cases.get(computed).updated_at
    # No figures yet: every figure is None, the case's own columns are there.
    assert (second.sessions, second.last_session) == (0, None)
    assert [getattr(second, name) for name in METRICS_FIELDS] == [None] * len(METRICS_FIELDS)


def test_the_caseload_of_one_therapist(store: Store, engine: Engine) -> None:
    mine = store.cases.create(make_case("MINE-1", therapist="dr.a"))
    store.cases.create(make_case("THEIRS-1", therapist="dr.b"))
    archived = store.cases.create(make_case("MINE-2", therapist="dr.a", status="archived"))
    save_metrics(store, archived, make_metrics(outcome="recovered"))

    rows, statements = count_statements(engine, lambda: caseload_rows(store, therapist="dr.a"))

    assert statements == 1
    assert [row.id for row in rows] == [mine]
    everything = caseload_rows(store, include_archived=True, therapist="dr.a")
    assert [(row.id, row.status, row.outcome) for row in everything] == [
        (mine, "active", None),
        (archived, "archived", "recovered"),
    ]
    assert caseload_rows(store, therapist="nobody") == []
    assert len(caseload_rows(store, include_archived=True)) == 3


def test_attempts_are_never_in_the_caseload(store: Store) -> None:
    case_id = store.cases.create(make_case("CASE-1"))
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")
    save_metrics(store, attempt, make_metrics())

    assert [row.id for row in caseload_rows(store, include_archived=True)] == [case_id]
    assert caseload_columns(store, include_archived=True)["id"] == [case_id]
    assert store.caseload.cases_without_metrics(10) == [case_id]


def test_the_frame_holds_the_caseload_as_columns(store: Store) -> None:
    first = store.cases.create(make_case("FIRST", sessions=[make_session(1)], therapist="dr.a"))
    second = store.cases.create(make_case("SECOND"))
    save_metrics(store, first, make_metrics())

    frame = caseload_columns(store)

    assert list(frame) == list(CASELOAD_FIELDS)
    rows = caseload_rows(store)
    # The same figures, the open flags as their stored JSON text.
    for name in CASELOAD_FIELDS:
        if name != "open_flag_ids":
            assert frame[name] == [getattr(row, name) for row in rows], name
    assert [open_flags(text) for text in frame["open_flag_ids"]] == [
        row.open_flag_ids for row in rows
    ]
    assert frame["id"] == [first, second]
    # What the engine's frame needs that storage does not give as such: the protocol's name,
    # the latest date (``last_session``) and the open flags as lists (``open_flag_ids``).
    assert set(FRAME_COLUMNS) - set(frame) == {"protocol_name", "last_session_date", "open_flags"}
    assert caseload_columns(store, therapist="nobody") == {name: [] for name in CASELOAD_FIELDS}


def test_session_counts_follow_every_session_write(store: Store) -> None:
    case_id = store.cases.create(make_case(sessions=[make_session(1), make_session(2)]))

    def counted() -> tuple[int, datetime.date | None]:
        [row] = caseload_rows(store)
        [summary] = store.cases.summaries()
        assert (summary.sessions, summary.last_session) == (row.sessions, row.last_session)
        return row.sessions, row.last_session

    week = datetime.timedelta(weeks=1)
    assert counted() == (2, FIRST_SESSION + week)
    store.sessions.save_session(case_id, make_session(4), None, "dr.a")
    assert counted() == (3, FIRST_SESSION + 3 * week)
    store.sessions.save_session(case_id, make_session(4, note="corrected"), None, "dr.a")
    assert counted() == (3, FIRST_SESSION + 3 * week)
    store.sessions.delete_session(case_id, 4, "dr.a")
    assert counted() == (2, FIRST_SESSION + week)
    store.sessions.delete_session(case_id, 1, "dr.a")
    store.sessions.delete_session(case_id, 2, "dr.a")
    assert counted() == (0, None)
    copy = store.cases.duplicate(
        store.cases.create(make_case("C-2", sessions=make_course())), "C-3"
    )
    assert {row.id: row.sessions for row in caseload_rows(store)}[copy] == 6


def test_saving_figures_replaces_them_and_leaves_the_case_alone(
    store: Store,
) -> None:
    case_id = store.cases.create(make_case())
    before = store.cases.get(case_id)

    save_metrics(store, case_id, make_metrics())
    [first] = caseload_rows(store)
    save_metrics(
        store,
        case_id,
        make_metrics(fit=None, alliance_latest=None, open_flags=[], outcome="no_data"),
    )

    [row] = caseload_rows(store)
    assert (row.fit, row.alliance_latest, row.open_flag_ids, row.outcome) == (
        None,
        None,
        (),
        "no_data",
    )
    assert first.computed_at is not None
    assert row.computed_at is not None
    assert row.computed_at >= first.computed_at
    after = store.cases.get(case_id)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    # A case deleted meanwhile gets no figures.
    assert store.caseload.save_figures([CaseFigures(404, 1, make_metrics(), ())], "t") == []


def test_every_figure_of_the_model_round_trips(store: Store, engine: Engine) -> None:
    case_id = store.cases.create(make_case())
    metrics = make_metrics(**NEW_FIGURES)

    save_metrics(store, case_id, metrics)

    [row] = caseload_rows(store)
    assert {name: getattr(row, name) for name in NEW_FIGURES} == NEW_FIGURES
    frame = caseload_columns(store)
    assert {name: frame[name] for name in NEW_FIGURES} == {
        name: [value] for name, value in NEW_FIGURES.items()
    }
    with engine.connect() as connection:
        stored = connection.execute(select(case_metrics)).one()._mapping
    assert {name: stored[name] for name in NEW_FIGURES} == NEW_FIGURES
    # Every field of the model's open flags is kept, so they are the model's flags again.
    assert [OpenFlag(**flag) for flag in row.open_flag_ids or ()] == metrics.open_flags
    assert (row.flags_high, row.flags_medium, row.flags_low) == (1, 1, 0)
    assert row.completeness == 80

    # An unknown caseness is kept as unknown, and every flag can be saved as true.
    save_metrics(
        store,
        case_id,
        make_metrics(caseness_at_start=None, **{name: True for name in list(NEW_FIGURES)[3:]}),
    )
    [row] = caseload_rows(store)
    assert row.caseness_at_start is None
    assert all(getattr(row, name) is True for name in list(NEW_FIGURES)[3:])
    # Severities the engine did not count are stored as none.
    save_metrics(store, case_id, make_metrics(flags_by_severity={"low": 2}))
    [row] = caseload_rows(store)
    assert (row.flags_high, row.flags_medium, row.flags_low) == (0, 0, 2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fit": float("nan")}, "fit"),
        ({"completeness": None}, "completeness"),
        ({"completeness": 101}, "completeness"),
        ({"alliance_latest": float("inf")}, "alliance_latest"),
        ({"flags_by_severity": {"high": -1}}, "flags_high"),
        ({"flags_by_severity": {"urgent": 1}}, "flags_by_severity"),
        ({"sessions_attended": 1.5}, "sessions_attended"),
        ({"sessions_recorded": -1}, "sessions_recorded"),
        ({"treatment_sessions_attended": -2}, "treatment_sessions_attended"),
        ({"alliance_trend": "sideways"}, "alliance_trend"),
        ({"outcome": ""}, "outcome"),
        ({"outcome": "o" * 25}, "outcome"),
        ({"dropped_after_first": "maybe"}, "dropped_after_first"),
        ({"finished": None}, "finished"),
        ({"caseness_at_start": "maybe"}, "caseness_at_start"),
        ({"open_flags": ["bond_low"]}, "open_flags"),
        ({"open_flags": [{"id": "x", "severity": "urgent", "theme": "alliance"}]}, "severity"),
    ],
)
def test_figures_that_do_not_fit_are_refused_naming_the_field(
    store: Store, changes: dict[str, object], field: str
) -> None:
    case_id = store.cases.create(make_case())

    with pytest.raises(ValueError, match=field):
        save_metrics(store, case_id, make_metrics(**changes))

    assert store.caseload.cases_without_metrics(1) == [case_id]


def test_figures_changed_after_they_were_built_are_checked_again(
    store: Store,
) -> None:
    case_id = store.cases.create(make_case())
    metrics = make_metrics()
    metrics.completeness = 180
    metrics.open_flags[0].severity = "urgent"  # type: ignore[assignment]

    with pytest.raises(ValueError, match="completeness"):
        save_metrics(store, case_id, metrics)
    with pytest.raises(ValueError, match="cannot be a dict"):
        save_metrics(store, case_id, make_metrics().model_dump())  # type: ignore[arg-type]
    assert store.caseload.cases_without_metrics(1) == [case_id]


def test_cases_without_figures_are_found_for_a_backfill(store: Store) -> None:
    ids = [store.cases.create(make_case(f"CASE-{n}")) for n in range(5)]
    store.cases.update_case(ids[4], None, status="archived")
    save_metrics(store, ids[1], make_metrics())

    assert store.caseload.cases_without_metrics(10) == [ids[0], ids[2], ids[3], ids[4]]
    assert store.caseload.cases_without_metrics(2) == [ids[0], ids[2]]
    with pytest.raises(ValueError, match="limit"):
        store.caseload.cases_without_metrics(0)


def test_figures_go_with_their_case(store: Store, engine: Engine) -> None:
    doomed = store.cases.create(make_case("DOOMED"))
    kept = store.cases.create(make_case("KEPT"))
    for case_id in (doomed, kept):
        save_metrics(store, case_id, make_metrics())

    store.cases.delete(doomed)

    with engine.connect() as connection:
        owners = connection.execute(select(case_metrics.c.case_id)).scalars().all()
        assert owners == [kept]
        assert connection.execute(select(func.count()).select_from(case_metrics)).scalar() == 1
    assert [row.id for row in caseload_rows(store)] == [kept]


def test_a_caseload_row_has_every_caseload_field() -> None:
    assert tuple(CaseloadRow.__dataclass_fields__) == CASELOAD_FIELDS


def test_chosen_columns_hold_the_frame_s_values_of_cases_with_figures(
    store: Store, engine: Engine
) -> None:
    figured = store.cases.create(make_case("FIG-1", sessions=make_course(), therapist="dr.a"))
    waiting = store.cases.create(make_case("WAIT-1", therapist="dr.a"))
    archived = store.cases.create(make_case("OLD-1", status="archived", therapist="dr.b"))
    for case_id in (figured, archived):
        save_metrics(store, case_id, make_metrics(caseness_at_start=None))
    fields = [name for name in CASELOAD_FIELDS if name not in ("updated_at", "computed_at")]

    columns, statements = count_statements(engine, lambda: store.caseload.caseload_columns(fields))

    assert statements == 1
    frame = caseload_columns(store)
    assert columns == {name: frame[name][:1] for name in fields}
    assert frame["id"] == [figured, waiting]
    assert store.caseload.caseload_columns(["id"], include_archived=True)["id"] == [
        figured,
        archived,
    ]
    assert store.caseload.caseload_columns(["id"], therapist="dr.b") == {"id": []}
    assert type(columns["last_session"][0]) is datetime.date
    assert columns["caseness_at_start"] == [None]
    assert columns["finished"] == [True]
    with pytest.raises(ValueError, match="computed_at"):
        store.caseload.caseload_columns(["id", "computed_at"])


def test_the_stamp_moves_with_every_change_to_the_caseload(store: Store) -> None:
    stamps = [store.caseload.caseload_stamp()]

    def moved() -> bool:
        stamps.append(store.caseload.caseload_stamp())
        return stamps[-1] != stamps[-2]

    assert (stamps[0].cases, stamps[0].without_figures) == (0, 0)
    first = store.cases.create(make_case("STAMP-1"))
    assert moved()
    assert (stamps[-1].cases, stamps[-1].with_figures, stamps[-1].without_figures) == (1, 0, 1)
    save_metrics(store, first, make_metrics())
    assert moved()
    assert stamps[-1].without_figures == 0
    store.cases.update_case(first, None, status="archived")
    assert moved()
    second = store.cases.create(make_case("STAMP-2"))
    assert moved()
    store.cases.delete(second)
    assert moved()
    assert not moved()
    # Attempts may carry figures; they are not cases waiting, nor cases with figures.
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")
    save_metrics(store, attempt, make_metrics())
    assert moved()
    assert (stamps[-1].cases, stamps[-1].with_figures) == (1, 1)
