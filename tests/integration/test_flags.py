"""Flag history against real databases: raised and cleared by the engine, decided by people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from tailoring.storage import caseload as stored_caseload
from tailoring.storage.caseload import CaseFigures
from tailoring.storage.errors import CaseNotFound
from tailoring.storage.supervision import FlagState
from tailoring.storage.tables import flag_events
from tests.integration.helpers import (
    flag_status,
    make_case,
    make_flag,
    make_metrics,
    run_together,
    statements_sent,
    sync_flags,
)
from tests.store import Store, repository_methods

BOND = make_flag("bond_low", "high", "The bond is weak")
STRUCTURE = make_flag("pref.structure")
PACE = make_flag("pace_fast", "low")


def events(store: Store, case_id: int) -> list[tuple[str, str]]:
    """The case's flag history as (flag id, event) pairs."""
    return [(e.flag_id, e.event) for e in store.supervision.flag_history(case_id)]


def test_sync_raises_new_flags_and_clears_gone_ones(store: Store) -> None:
    case_id = store.cases.create(make_case())

    raised = sync_flags(store, case_id, [BOND, STRUCTURE], "engine")
    cleared = sync_flags(store, case_id, [STRUCTURE, PACE], "engine")

    assert [(e.flag_id, e.event) for e in raised] == [
        ("bond_low", "raised"),
        ("pref.structure", "raised"),
    ]
    assert [(e.flag_id, e.event) for e in cleared] == [
        ("pace_fast", "raised"),
        ("bond_low", "cleared"),
    ]
    history = store.supervision.flag_history(case_id)
    assert [(e.flag_id, e.event) for e in history] == [
        ("bond_low", "raised"),
        ("pref.structure", "raised"),
        ("pace_fast", "raised"),
        ("bond_low", "cleared"),
    ]
    first = history[0]
    assert (first.severity, first.theme, first.title, first.reason, first.actor) == (
        "high",
        "alliance",
        "The bond is weak",
        None,
        "engine",
    )
    # A clearing names the flag as it was raised.
    assert (history[3].severity, history[3].title) == ("high", "The bond is weak")
    assert flag_status(store, case_id) == {
        "bond_low": "cleared",
        "pref.structure": "raised",
        "pace_fast": "raised",
    }


def test_sync_is_idempotent(store: Store, engine: Engine) -> None:
    case_id = store.cases.create(make_case())
    sync_flags(store, case_id, [BOND, STRUCTURE], "engine")
    before = store.cases.get(case_id)

    added, statements = statements_sent(
        engine, lambda: sync_flags(store, case_id, [STRUCTURE, BOND], "engine")
    )

    assert added == []
    assert not [s for s in statements if "INSERT INTO flag_events" in s]  # nothing to append
    assert len(store.supervision.flag_history(case_id)) == 2
    assert sync_flags(store, case_id, [], "engine") != []
    assert sync_flags(store, case_id, [], "engine") == []
    # Flags are about the case, not edits of it: the editor's version stays current.
    after = store.cases.get(case_id)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)


def test_simultaneous_syncs_raise_each_flag_once(store: Store) -> None:
    case_id = store.cases.create(make_case())

    run_together(
        lambda actor: sync_flags(store, case_id, [BOND, PACE], actor),
        [f"engine {n}" for n in range(5)],
    )

    assert sorted(events(store, case_id)) == [
        ("bond_low", "raised"),
        ("pace_fast", "raised"),
    ]


def test_a_cleared_flag_that_comes_back_is_raised_again(store: Store) -> None:
    case_id = store.cases.create(make_case())
    sync_flags(store, case_id, [BOND], "engine")
    store.supervision.decide_flag(
        case_id, "bond_low", "acknowledged", "Discussed in supervision", "sup"
    )
    sync_flags(store, case_id, [], "engine")

    sync_flags(store, case_id, [BOND], "engine")

    assert events(store, case_id) == [
        ("bond_low", "raised"),
        ("bond_low", "acknowledged"),
        ("bond_low", "cleared"),
        ("bond_low", "raised"),
    ]
    # Raised again, it is undecided again.
    assert flag_status(store, case_id) == {"bond_low": "raised"}


def test_decisions_need_reasons_and_a_raised_flag(store: Store) -> None:
    case_id = store.cases.create(make_case())
    sync_flags(store, case_id, [BOND], "engine")

    for event in ("acknowledged", "resolved"):
        for reason in ("", "   "):
            with pytest.raises(ValueError, match="reason"):
                store.supervision.decide_flag(case_id, "bond_low", event, reason, "sup")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event"):
        store.supervision.decide_flag(case_id, "bond_low", "cleared", "gone", "sup")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="never raised"):
        store.supervision.decide_flag(case_id, "pace_fast", "resolved", "Not an issue", "sup")
    with pytest.raises(ValueError, match="actor"):
        store.supervision.decide_flag(case_id, "bond_low", "resolved", "Fine", "")
    with pytest.raises(CaseNotFound):
        store.supervision.decide_flag(404, "bond_low", "resolved", "Fine", "sup")
    assert events(store, case_id) == [("bond_low", "raised")]

    resolved = store.supervision.decide_flag(
        case_id, "bond_low", "resolved", "  Repaired — ü ", "sup"
    )
    reopened = store.supervision.decide_flag(case_id, "bond_low", "reopened", "", "sup")

    assert (resolved.event, resolved.reason, resolved.actor) == ("resolved", "Repaired — ü", "sup")
    assert (resolved.severity, resolved.title) == ("high", "The bond is weak")
    assert (reopened.event, reopened.reason) == ("reopened", None)
    assert store.supervision.flag_history(case_id)[1:] == [resolved, reopened]
    assert flag_status(store, case_id) == {"bond_low": "reopened"}


def test_history_is_kept_in_the_order_recorded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = store.cases.create(make_case())
    late = datetime(2026, 3, 1, tzinfo=UTC)
    early = datetime(2026, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(stored_caseload, "utc_now", lambda: late)
    sync_flags(store, case_id, [BOND], "engine")
    store.supervision.decide_flag(case_id, "bond_low", "acknowledged", "Seen", "sup")
    monkeypatch.setattr(stored_caseload, "utc_now", lambda: early)
    sync_flags(store, case_id, [BOND, PACE], "engine")
    store.supervision.decide_flag(case_id, "pace_fast", "resolved", "Agreed pace", "sup")

    history = store.supervision.flag_history(case_id)
    assert [(e.flag_id, e.event) for e in history] == [
        ("bond_low", "raised"),
        ("bond_low", "acknowledged"),
        ("pace_fast", "raised"),
        ("pace_fast", "resolved"),
    ]
    assert (history[0].at, history[2].at) == (late, early)
    assert flag_status(store, case_id) == {"bond_low": "acknowledged", "pace_fast": "resolved"}


def test_sync_refuses_flags_that_do_not_fit(store: Store) -> None:
    case_id = store.cases.create(make_case())

    with pytest.raises(ValueError, match="more than once"):
        sync_flags(store, case_id, [BOND, BOND], "engine")
    with pytest.raises(ValueError, match="actor"):
        sync_flags(store, case_id, [BOND], "a" * 81)
    # A case deleted since its figures were computed gets none, and no flag events.
    assert store.caseload.save_figures([CaseFigures(404, 1, make_metrics(), (BOND,))], "e") == []
    with pytest.raises(CaseNotFound):
        store.supervision.flag_history(404)
    for bad in (
        {"id": "", "severity": "high", "theme": "alliance", "title": "t"},
        {"id": "x", "severity": "urgent", "theme": "alliance", "title": "t"},
        {"id": "x", "severity": "high", "theme": "t" * 25, "title": "t"},
        {"id": "x", "severity": "high", "theme": "alliance", "title": "t" * 201},
    ):
        with pytest.raises(ValueError):
            FlagState(**bad)  # type: ignore[arg-type]
    assert store.supervision.flag_history(case_id) == []
    assert flag_status(store, case_id) == {}


def test_flag_history_is_append_only_and_goes_with_its_case(store: Store, engine: Engine) -> None:
    doomed = store.cases.create(make_case("DOOMED"))
    kept = store.cases.create(make_case("KEPT"))
    for case_id in (doomed, kept):
        sync_flags(store, case_id, [BOND], "engine")
        store.supervision.decide_flag(case_id, "bond_low", "resolved", "Fine", "sup")

    # Repositories append and read flag events (save_figures appends the engine's); nothing
    # changes or removes them.
    assert {name for name in repository_methods(store) if "flag" in name} == {
        "cases_with_open_flag",  # reads the stored figures, not the history
        "decide_flag",
        "flag_history",
    }
    store.cases.delete(doomed)

    with engine.connect() as connection:
        owners = connection.execute(select(flag_events.c.case_id).distinct()).scalars().all()
    assert owners == [kept]
    assert len(store.supervision.flag_history(kept)) == 2
