"""Session entry, the timeline and practice through AppTest, driven by widget keys."""

from __future__ import annotations

import datetime
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.content import CONTENT_DIR, _cached_library

PAGES = ["pages/sessions.py", "pages/timeline.py", "pages/practice.py"]


def open_page(at: AppTest, page: str, case_id: int | None = None) -> AppTest:
    if case_id is not None:
        at.session_state["case_id"] = case_id
    at.switch_page(page)
    return at.run()


def add_session(at: AppTest, number: int) -> None:
    at.selectbox(key="sessions.pick").set_value(None).run()
    at.button(key=f"FormSubmitter:sessions.new-Add session {number}").click().run()
    assert not at.exception


def answer_measure(at: AppTest, measure_id: str, values: list[int]) -> None:
    for index, value in enumerate(values, start=1):
        at.radio(key=f"session.{measure_id}.{measure_id}_{index}").set_value(value).run()


@pytest.mark.parametrize("page", PAGES)
def test_every_new_page_opens_on_every_demo_case(app: AppTest, page: str):
    for summary in services.list_cases():
        open_page(app, page, summary.id)
        assert not app.exception, (summary.reference, page)


def test_pages_without_an_open_case_point_to_the_case_list(app: AppTest):
    for page in ("pages/sessions.py", "pages/timeline.py"):
        open_page(app, page)
        assert "Open or create a case first." in [i.value for i in app.info]


def test_recording_a_session_item_by_item_computes_the_total(app: AppTest, fresh_case):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    answer_measure(at, "phq9", [2, 2, 1, 1])
    stored = services.open_case(fresh_case).case.sessions[0]
    assert stored.measures["phq9"] == {f"phq9_{i}": v for i, v in enumerate([2, 2, 1, 1], 1)}
    assert any("Partial: 4 of 9" in i.value for i in at.info)
    answer_measure(at, "phq9", [2, 2, 1, 1, 1, 1, 1, 1, 0])
    # Moderate: an amber box, never the green of good news (issue 17).
    assert any("PHQ-9 total 10 of 27: Moderate" in s.value for s in at.warning)
    assert not any("PHQ-9 total" in s.value for s in at.success)
    assert not at.error


def test_a_total_is_coloured_by_its_severity(app: AppTest, fresh_case):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    answer_measure(at, "phq9", [0] * 9)
    assert any("PHQ-9 total 0 of 27: Minimal" in s.value for s in at.success)
    answer_measure(at, "phq9", [3, 3, 3, 3, 3, 3, 3, 0, 0])
    assert any("PHQ-9 total 21 of 27: Severe" in s.value for s in at.error)
    assert not any("PHQ-9 total" in s.value for s in at.success)


def test_item_9_above_zero_shows_the_local_procedure_notice(app: AppTest, fresh_case):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    at.radio(key="session.phq9.phq9_9").set_value(1).run()
    assert any("local risk procedure" in e.value for e in at.error)
    open_page(at, "pages/timeline.py", fresh_case)
    assert any("risk procedure" in e.value for e in at.error)


def test_the_patients_answers_before_a_session_are_recorded_in_it_with_one_click(
    app: AppTest, fresh_case
):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    at.radio(key="session.phq9.phq9_1").set_value(3).run()
    assert not at.get("button") or all(b.key != "sessions.copy_patient" for b in at.button)
    _, code = services.create_patient_link(fresh_case, {"before_session": 1})
    link = services.open_patient_link(code, "client")
    for item in range(1, 10):
        services.save_patient_answer(link.id, f"measure.phq9.phq9_{item}", {"value": 1})
    services.complete_patient_link(link.id)

    at.run()
    assert any("PHQ-9 9" in i.value for i in at.info)
    at.button(key="sessions.copy_patient").click().run()

    assert not at.exception
    assert at.radio(key="session.phq9.phq9_1").value == 1
    assert any("recorded in session 1" in s.value for s in at.success)
    assert any("are in this record: PHQ-9 9" in s.value for s in at.success)
    stored = services.open_case(fresh_case).case.sessions[0]
    assert stored.measures["phq9"] == {f"phq9_{i}": 1 for i in range(1, 10)}
    assert services.session_history(fresh_case)[-1].old["measures"]["phq9"] == {"phq9_1": 3}


def test_correcting_a_session_is_recorded_with_the_old_value(app: AppTest, fresh_case):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    at.radio(key="session.alliance.bond").set_value(3).run()
    at.radio(key="session.alliance.bond").set_value(1).run()
    history = services.session_history(fresh_case)
    assert history[-1].old["alliance"]["bond"] == {"value": 3}
    assert history[-1].new["alliance"]["bond"] == {"value": 1}
    assert history[-1].actor == services.current_user()


def test_three_sessions_show_reliable_improvement_and_a_rupture_on_the_timeline(
    app: AppTest, fresh_case
):
    start = datetime.date(2026, 9, 1)
    for number, (phq, gad, rupture) in enumerate(
        [([2] * 9, [2] * 7, 0), ([2] * 9, [2] * 7, 0), ([1] * 9, [1] * 7, 2)], start=1
    ):
        services.record_session(
            fresh_case,
            {
                "number": number,
                "date": start + datetime.timedelta(weeks=number),
                "attendance": "attended",
                "alliance": {"rupture_withdrawal": {"value": rupture}},
                "measures": {
                    "phq9": {f"phq9_{i}": v for i, v in enumerate(phq, 1)},
                    "gad7": {f"gad7_{i}": v for i, v in enumerate(gad, 1)},
                },
            },
            0,
        )
    at = open_page(app, "pages/timeline.py", fresh_case)
    assert not at.exception
    report = services.assess_case(services.open_case(fresh_case).case)
    assert report.outcomes.reliable_improvement == "yes"
    shown = " ".join(e.label for e in at.expander)
    rupture = [f for f in report.flags if f.id == "session.rupture"]
    assert rupture and rupture[0].title in shown
    assert len(at.get("plotly_chart")) >= 4


def test_the_timeline_shows_the_expected_change_band_and_the_rule_that_raised_the_flag(
    app: AppTest, fresh_case, tmp_path, monkeypatch
):
    # A service's own curves: here the shipped example, put where a service puts its own.
    with_curves = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, with_curves)
    shutil.copy(
        CONTENT_DIR / "examples" / "expected_change.demo.yaml",
        with_curves / "measures" / "expected_change.yaml",
    )
    monkeypatch.setenv("TAILORING_CONTENT_DIR", str(with_curves))
    _cached_library.cache_clear()
    start = datetime.date(2026, 9, 1)
    for number in (1, 2, 3):
        services.record_session(
            fresh_case,
            {
                "number": number,
                "date": start + datetime.timedelta(weeks=number),
                "attendance": "attended",
                "measures": {"phq9": {f"phq9_{i}": 2 for i in range(1, 10)}},  # 18 each time
            },
            0,
        )
    case = services.open_case(fresh_case).case
    band = services.expected_band(case, "phq9")
    assert [n for n, _, _ in band] == [1, 2, 3]
    at = open_page(app, "pages/timeline.py", fresh_case)
    assert not at.exception
    assert any("shaded band" in c.value for c in at.caption)
    flags = services.assess_case(case).flags
    [flag] = [f for f in flags if f.id == "session.not_on_track"]
    assert "rule: expected-change boundary" in flag.title, "18 stays above the boundary"
    assert flag.title in " ".join(e.label for e in at.expander)


def test_a_stale_session_edit_is_refused_and_the_other_version_shown(app: AppTest, fresh_case):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    stored = services.open_case(fresh_case)
    session = stored.case.sessions[0].model_dump()
    session["alliance"] = {"bond": {"value": 4}}
    services.record_session(fresh_case, session, stored.session_revisions[1])
    at.radio(key="session.alliance.bond").set_value(0).run()
    warning = next(w.value for w in at.warning if "Someone else changed this session" in w.value)
    assert "yours was: attended" in warning and "alliance bond=0" in warning  # nothing lost
    assert services.open_case(fresh_case).case.sessions[0].alliance["bond"].value == 4
    at.run()
    assert at.radio(key="session.alliance.bond").value == 4


def test_a_practice_attempt_is_graded_and_kept_apart_from_cases(app: AppTest, content):
    before = {c.reference for c in services.list_cases(include_archived=True)}
    at = open_page(app, "pages/practice.py")
    at.selectbox(key="practice.scenario").set_value("housing_damp_mould").run()
    at.button(key="practice.start").click().run()
    attempt = services.attempts("housing_damp_mould")[0]
    reference = content.scenario("housing_damp_mould").reference.social["housing"]
    at.button(key="walk.next").click().run()
    at.button_group(key="social.housing.present").set_value(reference.present).run()
    at.button_group(key="social.housing.maintains").set_value(reference.maintains).run()
    at.button_group(key="social.housing.helping").set_value(reference.helping).run()
    at.button(key="walk.next").click().run()
    at.button(key="walk.next").click().run()
    at.button(key="practice.submit").click().run()
    assert not at.exception
    grade = services.attempt_grade(attempt.id)
    assert "social.housing" in grade.flags.found
    assert at.metric[0].value == f"{grade.mark:.0f} / 100"
    assert {c.reference for c in services.list_cases(include_archived=True)} == before
    assert at.get("download_button")


def test_the_walkthrough_refuses_to_open_a_practice_attempt(app: AppTest):
    attempt_id = services.start_attempt("cbt_depression_fit")
    at = open_page(app, "pages/walkthrough.py", attempt_id)
    assert "That is a practice attempt: open it from Practice." in [i.value for i in at.info]


def test_an_attempt_carries_the_scenarios_problem_and_assessment(app: AppTest):
    """The trainee's own report reads the severity the grading reads (issue 15)."""
    attempt_id = services.start_attempt("ba_severe_depression")
    case = services.open_case(attempt_id).case
    assert case.problem == "depression"
    report = services.assess_case(case)
    assert report.severity.depression.total == 22
    assert "indication.severity" in {f.id for f in report.flags}


def _bond_given_then_changed_elsewhere(
    app: AppTest, case_id: int, item_id: str, value: int
) -> AppTest:
    """Session 1 on this page with "bond" answered 2, then one alliance item changed to
    ``value`` from another device, which this page has not heard of yet."""
    at = open_page(app, "pages/sessions.py", case_id)
    add_session(at, 1)
    at.radio(key="session.alliance.bond").set_value(2).run()
    stored = services.open_case(case_id)
    session = stored.case.sessions[0].model_dump()
    session["alliance"][item_id] = {"value": value}
    services.record_session(case_id, session, stored.session_revisions[1])
    return at


def test_a_browser_behind_someone_elses_session_change_cannot_save_its_old_value(
    app: AppTest, fresh_case
):
    """As on the walk-through (ui/bound.py's fifth cause): another device changes the session,
    this page's next run draws the change, but the browser's next message still carries the
    old value. It is refused as stale; the other change stays."""
    at = _bond_given_then_changed_elsewhere(app, fresh_case, "bond", 4)
    # This page runs again (a rerun of its own); the run draws "bond" with the other device's 4.
    at.run()
    assert at.radio(key="session.alliance.bond").value == 4
    # The browser's next message still holds "bond" at 2 (sent before that run reached it),
    # with an answer the person gave to another item.
    at.radio(key="session.alliance.bond").set_value(2)
    at.radio(key="session.alliance.pace_right").set_value(3).run()

    alliance = services.open_case(fresh_case).case.sessions[0].alliance
    assert alliance["bond"].value == 4
    assert alliance["pace_right"].value == 3
    assert any("Someone else changed this session" in w.value for w in at.warning)
    # Now told, the person can still choose 2 deliberately: that is saved.
    at.run()
    at.radio(key="session.alliance.bond").set_value(2).run()
    assert services.open_case(fresh_case).case.sessions[0].alliance["bond"].value == 2


def test_another_tabs_change_to_another_item_is_kept_and_this_one_saved_on_top(
    app: AppTest, fresh_case
):
    """Another device answers one alliance item; this page, which has not heard of it yet,
    answers another. Nothing is refused: both answers stand."""
    at = _bond_given_then_changed_elsewhere(app, fresh_case, "heard", 1)

    at.radio(key="session.alliance.pace_right").set_value(3).run()
    alliance = services.open_case(fresh_case).case.sessions[0].alliance
    assert {k: a.value for k, a in alliance.items()} == {"bond": 2, "heard": 1, "pace_right": 3}
    assert not any("Someone else changed this session" in w.value for w in at.warning)
    assert at.radio(key="session.alliance.heard").value == 1
