"""The caseload figures and flag history that services keep up to date after every change."""

from __future__ import annotations

import pytest

from tailoring import services
from tests.store import caseload_columns


@pytest.fixture
def database(tmp_path, monkeypatch, upgrade) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'services.db'}")
    upgrade(f"sqlite:///{tmp_path / 'services.db'}")


def events(case_id: int, flag_id: str) -> list[str]:
    return [e.event for e in services.flag_history(case_id) if e.flag_id == flag_id]


def test_start_gives_every_demo_case_its_figures(database):
    services.start()
    frame = caseload_columns()
    assert len(frame["id"]) == len(services.demo_case_paths())
    assert all(at is not None for at in frame["computed_at"])


def test_a_flag_is_raised_and_cleared_as_the_answers_change(database):
    services.start(load_demo=False)
    case_id = services.new_case("SRV-001", "cbt_depression", 16)
    services.save_answer(case_id, "preferences", "structure", {"value": 5, "importance": 3})
    assert events(case_id, "pref.structure") == ["raised"]
    services.save_answer(case_id, "preferences", "structure", {"value": 2, "importance": 3})
    assert events(case_id, "pref.structure") == ["raised", "cleared"]
    frame = caseload_columns()
    assert frame["fit"] == [100.0]


def test_sessions_update_the_figures(database):
    services.start(load_demo=False)
    case_id = services.new_case("SRV-002", "cbt_depression", 16)
    services.record_session(
        case_id, {"number": 1, "date": "2026-10-01", "attendance": "attended"}, 0
    )
    frame = caseload_columns()
    assert frame["sessions_attended"] == [1]


def test_practice_attempts_get_no_caseload_figures(database):
    services.start(load_demo=False)
    attempt = services.start_attempt("cbt_depression_fit")
    services.save_answer(attempt, "preferences", "structure", {"value": 5, "importance": 3})
    assert caseload_columns()["id"] == []
    assert services.flag_history(attempt) == []


def test_the_caseload_frame_feeds_every_caseload_figure(database):
    from tailoring.engine.caseload import FRAME_COLUMNS

    services.start()
    frame = services.caseload_frame()
    assert set(FRAME_COLUMNS) <= set(frame.columns)
    overview = services.caseload_overview(frame)
    assert overview.cases == len(services.demo_case_paths())
    assert overview.rates.started <= overview.cases
    assert sum(overview.flags_by_severity.values()) == sum(len(f) for f in frame["open_flags"])
    assert all(rate.small for rate in (overview.rates.recovery, overview.rates.completion))


def test_deleting_every_case_does_not_bring_the_demo_cases_back(database):
    services.start()
    for summary in services.list_cases(include_archived=True):
        services.delete_case(summary.id)
    services.start()  # the app calls it again on every rerun
    assert services.list_cases(include_archived=True) == []
