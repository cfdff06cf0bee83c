"""One unit of work per use case: the change, its figures and its audit entry, or none of them."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tailoring import services
from tailoring.storage.caseload import CaseloadRepository
from tailoring.storage.errors import StaleNote
from tests.integration.helpers import run_together
from tests.store import app_store, caseload_rows

WANTS_MORE = {"value": 5, "importance": 3}


@pytest.fixture
def case_id(app_database: str) -> int:
    return services.new_case("UOW-001", "cbt_depression", 16)


@pytest.fixture
def figures_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storing caseload figures fails as a lost connection makes it fail."""

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise OperationalError("INSERT INTO case_metrics ...", {}, Exception("connection lost"))

    monkeypatch.setattr(CaseloadRepository, "save_figures", broken)


def audit_entries() -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in app_store().audit.entries(limit=None)]


def test_an_answer_whose_figures_fail_is_not_saved_and_not_audited(
    case_id: int, request: pytest.FixtureRequest
) -> None:
    before = services.open_case(case_id)
    [figures] = caseload_rows()
    logged = audit_entries()

    request.getfixturevalue("figures_fail")
    with pytest.raises(services.StorageUnavailable):
        services.save_answer(case_id, "preferences", "structure", WANTS_MORE, 0)

    after = app_store().cases.get(case_id)
    assert "structure" not in after.case.answers.preferences
    assert (after.version, after.revisions) == (before.version, before.revisions)
    assert caseload_rows() == [figures]
    assert audit_entries() == logged
    assert "pref.structure" not in {e.flag_id for e in services.flag_history(case_id)}


def test_a_session_whose_figures_fail_is_not_saved_and_not_audited(
    case_id: int, request: pytest.FixtureRequest
) -> None:
    logged = audit_entries()

    request.getfixturevalue("figures_fail")
    with pytest.raises(services.StorageUnavailable):
        services.record_session(
            case_id, {"number": 1, "date": "2026-10-01", "attendance": "attended"}, 0
        )

    assert app_store().cases.get(case_id).case.sessions == []
    assert app_store().sessions.corrections(case_id) == []
    assert audit_entries() == logged


def test_a_new_case_whose_figures_fail_is_not_created_and_not_audited(
    app_database: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("figures_fail")
    with pytest.raises(services.StorageUnavailable):
        services.new_case("UOW-002", "cbt_depression", 16)

    assert services.list_cases() == []
    assert audit_entries() == []


def test_the_change_its_figures_and_its_entry_are_stored_together(case_id: int) -> None:
    services.save_answer(case_id, "preferences", "structure", WANTS_MORE, 0)

    assert app_store().cases.get(case_id).revisions[("preferences", "structure")] == 1
    assert {e.flag_id for e in services.flag_history(case_id)} >= {"pref.structure"}
    assert audit_entries()[0] == ("changed", "answer preferences structure")


def test_a_refused_edit_of_a_note_is_not_audited(case_id: int) -> None:
    note_id = services.add_note(case_id, "Agreed to slow the pace.")
    services.edit_note(note_id, 1, "Slower pace agreed.", "", "open")
    logged = audit_entries()

    with pytest.raises(StaleNote):
        services.edit_note(note_id, 1, "A stale edit.", "", "open")

    assert audit_entries() == logged


def test_the_audit_chain_holds_when_use_cases_commit_at_once(app_database: str) -> None:
    cases = [services.new_case(f"UOW-1{n}", "cbt_depression", 16) for n in range(6)]

    run_together(
        lambda n: services.save_answer(cases[int(n)], "preferences", "pace", WANTS_MORE, 0),
        [str(n) for n in range(len(cases))],
    )

    check = app_store().audit.check()
    assert check.intact, check.problem
    changed = [detail for action, detail in audit_entries() if action == "changed"]
    assert changed == ["answer preferences pace"] * len(cases)
