"""Flag history against real databases: raised and cleared by the engine, decided by people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from tailoring.storage.errors import CaseNotFound
from tailoring.storage.repository import CaseRepository, FlagState
from tailoring.storage.tables import flag_events
from tests.integration.helpers import count_statements, make_case, make_flag, run_together

BOND = make_flag("bond_low", "high", "The bond is weak")
STRUCTURE = make_flag("pref.structure")
PACE = make_flag("pace_fast", "low")


def events(repository: CaseRepository, case_id: int) -> list[tuple[str, str]]:
    """The case's flag history as (flag id, event) pairs."""
    return [(e.flag_id, e.event) for e in repository.flag_history(case_id)]


def test_sync_raises_new_flags_and_clears_gone_ones(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())

    raised = repository.sync_flags(case_id, [BOND, STRUCTURE], "engine")
    cleared = repository.sync_flags(case_id, [STRUCTURE, PACE], "engine")

    assert [(e.flag_id, e.event) for e in raised] == [
        ("bond_low", "raised"),
        ("pref.structure", "raised"),
    ]
    assert [(e.flag_id, e.event) for e in cleared] == [
        ("pace_fast", "raised"),
        ("bond_low", "cleared"),
    ]
    history = repository.flag_history(case_id)
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
    assert repository.flag_status(case_id) == {
        "bond_low": "cleared",
        "pref.structure": "raised",
        "pace_fast": "raised",
    }


def test_sync_is_idempotent(repository: CaseRepository, engine: Engine) -> None:
    case_id = repository.create(make_case())
    repository.sync_flags(case_id, [BOND, STRUCTURE], "engine")
    before = repository.get(case_id)

    added, statements = count_statements(
        engine, lambda: repository.sync_flags(case_id, [STRUCTURE, BOND], "engine")
    )

    assert added == []
    assert statements == 2  # lock the case, read its history; nothing to append
    assert len(repository.flag_history(case_id)) == 2
    assert repository.sync_flags(case_id, [], "engine") != []
    assert repository.sync_flags(case_id, [], "engine") == []
    # Flags are about the case, not edits of it: the editor's version stays current.
    after = repository.get(case_id)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)


def test_simultaneous_syncs_raise_each_flag_once(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())

    run_together(
        lambda actor: repository.sync_flags(case_id, [BOND, PACE], actor),
        [f"engine {n}" for n in range(5)],
    )

    assert sorted(events(repository, case_id)) == [
        ("bond_low", "raised"),
        ("pace_fast", "raised"),
    ]


def test_a_cleared_flag_that_comes_back_is_raised_again(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())
    repository.sync_flags(case_id, [BOND], "engine")
    repository.decide_flag(case_id, "bond_low", "acknowledged", "Discussed in supervision", "sup")
    repository.sync_flags(case_id, [], "engine")

    repository.sync_flags(case_id, [BOND], "engine")

    assert events(repository, case_id) == [
        ("bond_low", "raised"),
        ("bond_low", "acknowledged"),
        ("bond_low", "cleared"),
        ("bond_low", "raised"),
    ]
    # Raised again, it is undecided again.
    assert repository.flag_status(case_id) == {"bond_low": "raised"}


def test_decisions_need_reasons_and_a_raised_flag(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())
    repository.sync_flags(case_id, [BOND], "engine")

    for event in ("acknowledged", "resolved"):
        for reason in ("", "   "):
            with pytest.raises(ValueError, match="reason"):
                repository.decide_flag(case_id, "bond_low", event, reason, "sup")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event"):
        repository.decide_flag(case_id, "bond_low", "cleared", "gone", "sup")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="never raised"):
        repository.decide_flag(case_id, "pace_fast", "resolved", "Not an issue", "sup")
    with pytest.raises(ValueError, match="actor"):
        repository.decide_flag(case_id, "bond_low", "resolved", "Fine", "")
    with pytest.raises(CaseNotFound):
        repository.decide_flag(404, "bond_low", "resolved", "Fine", "sup")
    assert events(repository, case_id) == [("bond_low", "raised")]

    resolved = repository.decide_flag(case_id, "bond_low", "resolved", "  Repaired — ü ", "sup")
    reopened = repository.decide_flag(case_id, "bond_low", "reopened", "", "sup")

    assert (resolved.event, resolved.reason, resolved.actor) == ("resolved", "Repaired — ü", "sup")
    assert (resolved.severity, resolved.title) == ("high", "The bond is weak")
    assert (reopened.event, reopened.reason) == ("reopened", None)
    assert repository.flag_history(case_id)[1:] == [resolved, reopened]
    assert repository.flag_status(case_id) == {"bond_low": "reopened"}


def test_history_is_kept_in_the_order_recorded(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())
    late = datetime(2026, 3, 1, tzinfo=UTC)
    early = datetime(2026, 1, 1, tzinfo=UTC)

    repository.sync_flags(case_id, [BOND], "engine", at=late)
    repository.decide_flag(case_id, "bond_low", "acknowledged", "Seen", "sup")
    repository.sync_flags(case_id, [BOND, PACE], "engine", at=early)
    repository.decide_flag(case_id, "pace_fast", "resolved", "Agreed pace", "sup")

    history = repository.flag_history(case_id)
    assert [(e.flag_id, e.event) for e in history] == [
        ("bond_low", "raised"),
        ("bond_low", "acknowledged"),
        ("pace_fast", "raised"),
        ("pace_fast", "resolved"),
    ]
    assert (history[0].at, history[2].at) == (late, early)
    assert repository.flag_status(case_id) == {"bond_low": "acknowledged", "pace_fast": "resolved"}
    with pytest.raises(ValueError, match="timezone"):
        repository.sync_flags(case_id, [], "engine", at=datetime(2026, 1, 1))


def test_sync_refuses_flags_that_do_not_fit(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())

    with pytest.raises(ValueError, match="more than once"):
        repository.sync_flags(case_id, [BOND, BOND], "engine")
    with pytest.raises(ValueError, match="actor"):
        repository.sync_flags(case_id, [BOND], "a" * 81)
    with pytest.raises(CaseNotFound):
        repository.sync_flags(404, [BOND], "engine")
    with pytest.raises(CaseNotFound):
        repository.flag_history(404)
    for bad in (
        {"id": "", "severity": "high", "theme": "alliance", "title": "t"},
        {"id": "x", "severity": "urgent", "theme": "alliance", "title": "t"},
        {"id": "x", "severity": "high", "theme": "t" * 25, "title": "t"},
        {"id": "x", "severity": "high", "theme": "alliance", "title": "t" * 201},
    ):
        with pytest.raises(ValueError):
            FlagState(**bad)  # type: ignore[arg-type]
    assert repository.flag_history(case_id) == []
    assert repository.flag_status(case_id) == {}


def test_flag_history_is_append_only_and_goes_with_its_case(
    repository: CaseRepository, engine: Engine
) -> None:
    doomed = repository.create(make_case("DOOMED"))
    kept = repository.create(make_case("KEPT"))
    for case_id in (doomed, kept):
        repository.sync_flags(case_id, [BOND], "engine")
        repository.decide_flag(case_id, "bond_low", "resolved", "Fine", "sup")

    # The repository appends and reads flag events; nothing changes or removes them.
    public = {name for name in dir(repository) if not name.startswith("_")}
    assert {name for name in public if "flag" in name} == {
        "cases_with_open_flag",  # reads the stored figures, not the history
        "sync_flags",
        "decide_flag",
        "flag_history",
        "flag_status",
    }
    repository.delete(doomed)

    with engine.connect() as connection:
        owners = connection.execute(select(flag_events.c.case_id).distinct()).scalars().all()
    assert owners == [kept]
    assert len(repository.flag_history(kept)) == 2
