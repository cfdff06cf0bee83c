"""Every page through Streamlit's AppTest, driven by widget keys."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.content import CONTENT_DIR, _cached_library
from tailoring.model.actor import Actor, local_actor
from tests.app.conftest import APP, open_walkthrough, sign_in

PAGES = Path(APP).parent / "pages"
DEMO = "DEMO-005"  # the demo case with sessions, measures and a risk answer: most to draw
# Every page file, and the title it opens with while DEMO-005 is the open case.
TITLES = {
    "audit.py": "Audit log",
    "caseload.py": "Caseload",
    "cases.py": "Cases",
    "import_caseload.py": "Import caseload",
    "library.py": "Content library",
    # A patient's link to the preferences set.
    "patient_questionnaires_answer.py": "What you want from therapy",
    "patient_questionnaires.py": f"Patient questionnaires · {DEMO}",
    "practice.py": "Practice",
    "review.py": f"Case review · {DEMO}",
    "sessions.py": f"Sessions · {DEMO}",
    "timeline.py": f"Timeline · {DEMO}",
    "walkthrough.py": f"Walk-through · {DEMO}",
}
# The errors a page shows on purpose with DEMO-005 open (its PHQ-9 item 9 is above 0, its
# totals are in the severe bands): clinical alerts, not failures. Each must be there.
ALERTS = {
    "caseload.py": [f"PHQ-9 item 9 above 0 in 1 case: {DEMO} (at a session)."],
    "sessions.py": [
        "PHQ-9 total 16 of 27: Moderately severe",
        "WSAS total 21 of 32: Moderately severe impairment or worse",
    ],
    "timeline.py": ["PHQ-9 item 9 above 0: follow your local risk procedure."],
}
# The pages in each role's menu in team mode; any other page's address is refused (the patient's
# page, patient_questionnaires_answer.py, is nobody's: a patient reaches it with a code).
MENUS = {
    "therapist": {
        "cases.py",
        "walkthrough.py",
        "sessions.py",
        "timeline.py",
        "patient_questionnaires.py",
        "caseload.py",
        "import_caseload.py",
        "review.py",
        "library.py",
    },
    "supervisor": {"caseload.py", "review.py", "practice.py", "library.py", "audit.py"},
    "trainee": {"practice.py", "library.py"},
    "admin": {"library.py", "audit.py"},
}
LOCAL_MENU = set(TITLES) - {"patient_questionnaires_answer.py"}
# Who signs in for each role (tests/app/test_team_mode.py's team: Sam supervises Tess).
SIGNS_IN = {"therapist": "tess", "supervisor": "sam", "trainee": "tara", "admin": "ada"}


def problems_on(at: AppTest, page: str) -> list[str]:
    """What is wrong with ``page`` just run: an exception, an error that is not one of its
    alerts (friendly_errors turns failures into errors), a missing alert, another title."""
    problems = [f"{page}: exception {e.value}" for e in at.exception]
    shown = [e.value for e in at.error]
    expected = ALERTS.get(page, [])
    problems += [
        f"{page}: error {message!r}"
        for message in shown
        if not any(message.startswith(alert) for alert in expected)
    ]
    problems += [
        f"{page}: alert missing {alert!r}"
        for alert in expected
        if not any(message.startswith(alert) for message in shown)
    ]
    titles = [t.value for t in at.title]
    if titles[:1] != [TITLES[page]]:
        problems.append(f"{page}: titled {titles[:1]}, not {TITLES[page]!r}")
    return problems


def open_every_page(at: AppTest, menu: set[str]) -> list[str]:
    """Open each page of the menu, and check every other page's address is refused."""
    problems = []
    for page in sorted(set(TITLES) - {"patient_questionnaires_answer.py"}):
        if page not in menu:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"pages/{page}")
            continue
        at.switch_page(f"pages/{page}").run()
        problems += problems_on(at, page)
    return problems


def patient_visit(case_id: int) -> list[str]:
    """A patient opening a new link to the case's preferences questionnaire."""
    with services.acting_as(local_actor()):
        _, code = services.create_patient_link(case_id, {"preferences": None})
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["code"] = code
    return problems_on(at.run(), "patient_questionnaires_answer.py")


def demo_case_id() -> int:
    return next(c.id for c in services.list_cases() if c.reference == DEMO)


def test_the_smoke_tests_know_every_page_file() -> None:
    assert sorted(p.name for p in PAGES.glob("*.py")) == sorted(TITLES)
    assert set().union(*MENUS.values()) | {"patient_questionnaires_answer.py"} == set(TITLES)


def test_every_page_opens_in_local_mode(app: AppTest) -> None:
    case_id = demo_case_id()
    app.session_state["case_id"] = case_id
    assert open_every_page(app, LOCAL_MENU) + patient_visit(case_id) == []


@pytest.fixture
def team_demo(team: dict[str, int]) -> int:
    """Team mode's accounts and cases, and DEMO-005 imported by Tess (whom Sam supervises)."""
    tess = Actor("tess", "Tess", frozenset({"therapist"}))
    with services.acting_as(tess):
        path = next(p for p in services.demo_case_paths() if p.name == "demo-05.json")
        return services.import_case(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("role", sorted(MENUS))
def test_every_page_opens_in_team_mode_for_each_role(team_demo: int, role: str) -> None:
    at = sign_in(SIGNS_IN[role])
    assert not at.exception and at.title[0].value != "Sign in to Tailoring"
    if role in ("therapist", "supervisor"):  # the others open no case
        at.session_state["case_id"] = team_demo
    assert open_every_page(at, MENUS[role]) == []


def test_a_patient_opens_their_page_in_team_mode(team_demo: int) -> None:
    assert patient_visit(team_demo) == []


def test_the_smoke_test_sees_a_failure_that_friendly_errors_hides(app: AppTest, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "item9_cases", broken)
    app.switch_page("pages/caseload.py").run()
    assert problems_on(app, "caseload.py") == [
        "caseload.py: error 'Something went wrong on this page. Your saved answers are safe. "
        "Reload the page; if it happens again, tell your administrator the time it happened.'",
        f"caseload.py: alert missing 'PHQ-9 item 9 above 0 in 1 case: {DEMO} (at a session).'",
    ]


@pytest.mark.parametrize("step", ["preferences", "social", "alliance", "report"])
def test_every_walkthrough_step_opens_on_every_demo_case(app: AppTest, step: str):
    for summary in services.list_cases():
        open_walkthrough(app, summary.id, step)
        assert not app.exception, (summary.reference, step)
        assert not app.error, (summary.reference, step)


def test_the_app_opens_on_the_demo_cases(app: AppTest):
    table = app.dataframe[0].value
    assert sorted(table["Reference"]) == [f"DEMO-00{i}" for i in range(1, 6)]


def test_creating_a_case_refuses_a_name_and_accepts_a_code(app: AppTest):
    app.text_input(key="case.new.reference").input("JaneSmith")
    app.button(key="FormSubmitter:case.new-Create and start the walk-through").click().run()
    assert any("digit" in e.value for e in app.error)
    assert "JaneSmith" not in [c.reference for c in services.list_cases()]

    app.text_input(key="case.new.reference").input("TT-0423")
    app.selectbox(key="case.new.protocol").set_value("gsh_cbt")
    app.number_input(key="case.new.sessions").set_value(6)
    app.button(key="FormSubmitter:case.new-Create and start the walk-through").click().run()
    assert not app.exception
    created = next(c for c in services.list_cases() if c.reference == "TT-0423")
    assert (created.protocol_id, created.sessions_available) == ("gsh_cbt", 6)
    assert app.session_state["case_id"] == created.id
    assert app.title[0].value == "Walk-through · TT-0423"


def test_a_full_walkthrough_driven_by_keys_produces_the_expected_flags(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.focus").set_value(5).run()
    at.button_group(key="pref.focus.importance").set_value(3).run()
    at.radio(key="pref.practice").set_value(1).run()
    at.button_group(key="pref.practice.importance").set_value(2).run()
    at.button(key="walk.next").click().run()

    at.button_group(key="social.housing.present").set_value("yes").run()
    at.button_group(key="social.housing.maintains").set_value("yes").run()
    at.button_group(key="social.housing.helping").set_value("no").run()
    at.button(key="walk.next").click().run()

    at.radio(key="alliance.rupture_withdrawal").set_value(2).run()
    at.button(key="walk.next").click().run()
    assert not at.exception

    stored = services.open_case(fresh_case)
    assert stored.case.step == "report"
    assert stored.case.answers.preferences["focus"].value == 5
    assert stored.case.answers.preferences["focus"].importance == 3
    report = services.assess_case(stored.case)
    assert {"pref.focus", "pref.practice", "social.housing", "alliance.rupture_withdrawal"} <= {
        f.id for f in report.flags
    }
    shown = " ".join(e.label for e in at.expander)
    for flag in report.flags:
        assert flag.title in shown
    assert at.get("download_button")


def test_answers_survive_a_new_browser_session(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.structure").set_value(4).run()
    at.button(key="walk.next").click().run()

    # A refresh is a new session: nothing in session state, only the address bar's case id.
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["case"] = str(fresh_case)
    again.switch_page("pages/walkthrough.py").run()
    assert again.session_state["walk.step"] == "social"
    again.button(key="walk.back").click().run()
    assert again.radio(key="pref.structure").value == 4


def test_moving_between_steps_keeps_the_answers_shown(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.pace").set_value(2).run()
    at.button(key="walk.next").click().run()
    at.button(key="walk.back").click().run()
    assert at.radio(key="pref.pace").value == 2


def test_a_database_that_cannot_be_written_keeps_the_answer_on_the_page(
    app: AppTest, fresh_case, monkeypatch
):
    at = open_walkthrough(app, fresh_case)

    def down(*args, **kwargs):
        raise services.StorageUnavailable()

    working = services.save_answer
    monkeypatch.setattr(services, "save_answer", down)
    at.radio(key="pref.structure").set_value(4).run()
    assert any("Not saved" in e.value for e in at.error)
    assert at.radio(key="pref.structure").value == 4
    monkeypatch.setattr(services, "save_answer", working)
    at.button(key="checklist.retry").click().run()
    assert services.open_case(fresh_case).case.answers.preferences["structure"].value == 4


def test_a_second_editor_cannot_silently_overwrite_an_answer(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.structure").set_value(2).run()
    # Someone else saves the same answer from another device.
    revision = services.open_case(fresh_case).revisions[("preferences", "structure")]
    services.save_answer(fresh_case, "preferences", "structure", {"value": 5}, revision)

    at.radio(key="pref.structure").set_value(3).run()
    assert any("Someone else changed this answer" in w.value for w in at.warning)
    assert at.radio(key="pref.structure").value == 5
    assert services.open_case(fresh_case).case.answers.preferences["structure"].value == 5


def test_duplicate_archive_and_delete_with_confirmation(app: AppTest):
    app.selectbox(key="cases.selected").set_value("DEMO-002").run()
    app.text_input(key="cases.copy_reference").input("DEMO-002-B")
    app.button(key="cases.duplicate").click().run()
    copy = next(c for c in services.list_cases() if c.reference == "DEMO-002-B")
    original = next(c for c in services.list_cases() if c.reference == "DEMO-002")
    assert copy.answered == original.answered

    app.selectbox(key="cases.selected").set_value("DEMO-002-B").run()
    app.button(key="cases.archive").click().run()
    assert "DEMO-002-B" not in [c.reference for c in services.list_cases()]
    app.toggle(key="cases.show_archived").set_value(True).run()
    app.selectbox(key="cases.selected").set_value("DEMO-002-B").run()
    app.button(key="cases.delete").click().run()
    app.button(key="cases.delete.cancel").click().run()
    assert "DEMO-002-B" in [c.reference for c in services.list_cases(include_archived=True)]
    app.button(key="cases.delete").click().run()
    app.button(key="cases.delete.confirm").click().run()
    assert "DEMO-002-B" not in [c.reference for c in services.list_cases(include_archived=True)]


def test_changing_the_plan_rescores_against_the_new_protocol(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case, "report")
    at.selectbox(key="case.protocol").set_value("dit")
    at.number_input(key="case.sessions").set_value(16)
    at.selectbox(key="case.anxiety_measure").set_value("gad7")
    at.button(key="case.save_plan").click().run()
    assert services.open_case(fresh_case).case.protocol_id == "dit"
    with pytest.raises(services.CaseFileError, match="anxiety_measure"):
        services.update_case(fresh_case, None, anxiety_measure="phq9")
    assert not at.exception


def test_the_plan_records_the_referral_and_its_ending(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case, "report")
    at.date_input(key="case.referral_date").set_value(date(2026, 10, 1))
    at.date_input(key="case.ending_date").set_value(date(2026, 9, 1))
    at.selectbox(key="case.ending_reason").set_value("completed")
    at.button(key="case.save_plan").click().run()
    assert any("before the referral" in e.value for e in at.error)
    assert services.open_case(fresh_case).case.ending_date is None

    at.date_input(key="case.ending_date").set_value(date(2026, 12, 1))
    at.button(key="case.save_plan").click().run()
    case = services.open_case(fresh_case).case
    assert (case.referral_date, case.ending_date, case.ending_reason) == (
        date(2026, 10, 1),
        date(2026, 12, 1),
        "completed",
    )
    assert not at.exception


def test_content_that_does_not_validate_stops_the_app_with_the_file_named(
    database, tmp_path, monkeypatch
):
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    path = broken / "preferences.yaml"
    path.write_text(path.read_text().replace("theme: depth", "theme: depthh", 1))
    monkeypatch.setenv("TAILORING_CONTENT_DIR", str(broken))
    _cached_library.cache_clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "does not validate" in at.error[0].value
    assert "preferences.yaml" in at.code[0].value


def test_the_content_library_shows_every_protocol_profile(app: AppTest, content):
    app.switch_page("pages/library.py").run()
    for protocol in content.protocols:
        app.selectbox(key="library.protocol").set_value(protocol.id).run()
        assert not app.exception
        assert protocol.name in " ".join(m.value for m in app.markdown)


def test_the_problem_is_recorded_in_the_plan_and_shown_with_the_protocol(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case, "report")
    assert "not recorded" in " ".join(m.value for m in at.markdown)
    assert at.expander[0].label == (
        "Plan: CBT for depression, presenting problem not recorded, 16 sessions available"
    )
    at.selectbox(key="case.problem").set_value("depression")
    at.button(key="case.save_plan").click().run()
    assert at.expander[0].label == "Plan: CBT for depression, 16 sessions available"
    at.selectbox(key="case.problem").set_value("ptsd")
    at.button(key="case.save_plan").click().run()
    assert not at.exception
    assert services.open_case(fresh_case).case.problem == "ptsd"
    assert at.expander[0].label == (
        "Plan: CBT for depression, presenting problem: post-traumatic stress disorder (PTSD), "
        "16 sessions available"
    )
    assert "CBT for depression: not indicated for the problem" in " ".join(
        e.value for e in at.error
    )
    alternatives = next(t.value for t in at.table if "Indication" in t.value.columns)
    assert alternatives.iloc[0]["Indication"] == "Indicated"
    assert set(alternatives.iloc[:2]["Protocol"]) == {
        "Trauma-focused CBT for PTSD",
        "EMDR for PTSD",
    }


def test_a_second_problem_the_same_as_the_first_is_refused(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case, "report")
    at.selectbox(key="case.problem").set_value("depression")
    at.selectbox(key="case.second_problem").set_value("depression")
    at.button(key="case.save_plan").click().run()
    assert not at.exception
    assert "second_problem" in " ".join(e.value for e in at.error)
    assert services.open_case(fresh_case).case.problem is None


def test_a_detail_with_present_no_is_refused_with_the_field_named(app: AppTest, fresh_case):
    at = open_walkthrough(app, fresh_case, "social")
    at.button_group(key="social.safeguarding.present").set_value("yes").run()
    at.button_group(key="social.safeguarding.details").set_value(["domestic_abuse"]).run()
    assert services.open_case(fresh_case).case.answers.social["safeguarding"].details == [
        "domestic_abuse"
    ]
    at.button_group(key="social.safeguarding.present").set_value("no").run()
    assert not at.exception
    shown = " ".join(e.value for e in [*at.error, *at.warning])
    assert "answers.social.safeguarding.details" in shown
    stored = services.open_case(fresh_case).case.answers.social["safeguarding"]
    assert (stored.present, stored.details) == ("yes", ["domestic_abuse"])


def test_the_content_library_shows_the_indication_matrix(app: AppTest, content):
    app.switch_page("pages/library.py").run()
    assert not app.exception
    matrix = next(d.value for d in app.dataframe if "contraindications" in d.value.columns)
    assert list(matrix["protocol"]) == [p.name for p in content.protocols]
    couple = matrix[matrix["protocol"] == "Couple therapy for depression"].iloc[0]
    assert couple["Depression"] == "yes" and couple["Post-traumatic stress disorder (PTSD)"] == ""
    assert "Domestic abuse" in couple["contraindications"]
    assert couple["sources checked"] == "0 of 4"
    assert "NICE NG222 (2022) 1.6" in couple["not checked here"]


def test_a_contraindicated_plan_shows_the_contraindication_in_place_of_the_fit(
    app: AppTest, fresh_case
):
    services.update_case(fresh_case, None, protocol_id="couple_therapy", problem="depression")
    partner = {"present": "yes", "maintains": "yes", "details": ["partner_conflict"]}
    services.save_answer(fresh_case, "social", "relationships", partner)
    services.save_answer(fresh_case, "preferences", "structure", {"value": 2, "importance": 3})
    before = open_walkthrough(app, fresh_case, "report")
    assert before.metric[0].value == "100 / 100"
    services.record_session(
        fresh_case, {"number": 1, "date": date(2026, 11, 2), "attendance": "attended"}
    )
    services.save_answer(
        fresh_case, "social", "safeguarding", {"present": "yes", "details": ["domestic_abuse"]}
    )
    for at in (
        open_walkthrough(before, fresh_case, "report"),
        before.switch_page("pages/review.py").run(),
    ):
        assert not at.exception
        fit = next(m for m in at.metric if m.label == "Overall fit")
        assert fit.value == "Contraindicated"
        # Said before anything else on the report, with the reason and what to do.
        first = at.error[0].value
        assert "Couple therapy for depression is contraindicated" in first
        assert "Domestic abuse" in first and "Choose another protocol" in first
        assert "/ 100" not in " ".join(m.value for m in at.metric if m.label == "Overall fit")
    # The timeline keeps the fit recorded at session 1, under the contraindication now.
    at = before.switch_page("pages/timeline.py").run()
    assert not at.exception
    assert any("Couple therapy for depression is contraindicated" in e.value for e in at.error)


def test_the_patients_choice_of_low_intensity_is_recorded_in_the_plan(app: AppTest, fresh_case):
    services.update_case(fresh_case, None, protocol_id="ba_step2", problem="depression")
    phq9 = {f"phq9_{n}": 2 for n in range(1, 10)}  # 18: more severe depression
    services.record_session(
        fresh_case,
        {
            "number": 1,
            "date": date(2026, 11, 2),
            "attendance": "attended",
            "kind": "assessment",
            "measures": {"phq9": phq9},
        },
    )
    at = open_walkthrough(app, fresh_case, "report")
    flags = " ".join(e.label for e in at.expander)
    assert "PHQ-9 18: severity above the range" in flags
    assert not at.checkbox(key="case.low_intensity_chosen").value

    at.checkbox(key="case.low_intensity_chosen").check()
    at.button(key="case.save_plan").click().run()
    assert not at.exception
    assert services.open_case(fresh_case).case.low_intensity_chosen is True
    flags = " ".join(e.label for e in at.expander)
    assert "chosen by the patient after discussion" in flags
    assert "severity above the range" not in flags
    assert at.checkbox(key="case.low_intensity_chosen").value


def test_a_browser_that_has_not_yet_received_someone_elses_answer_cannot_save_its_old_one(
    app: AppTest, fresh_case
):
    """The soak's second-tab loss (walk-through seeds 1000, 3005; ui/bound.py's fifth cause):
    another tab saves an answer; this page's next run draws it, but the browser's next message,
    sent before that run reached it, still carries the old value. That is not the person's
    change: it is refused as stale and the other tab's answer stays."""
    services.save_answer(fresh_case, "alliance", "heard", {"value": 4})
    at = open_walkthrough(app, fresh_case, "alliance")
    assert at.radio(key="alliance.heard").value == 4
    # The other tab.
    revision = services.open_case(fresh_case).revisions[("alliance", "heard")]
    services.save_answer(fresh_case, "alliance", "heard", {"value": 1}, revision)
    # This tab answers another question; its run draws "heard" with the other tab's 1.
    at.radio(key="alliance.bond").set_value(2).run()
    assert at.radio(key="alliance.heard").value == 1
    # The browser's next message still holds "heard" at 4 (it sent it before that run arrived).
    at.radio(key="alliance.heard").set_value(4)
    at.radio(key="alliance.task_agreement").set_value(3).run()

    stored = services.open_case(fresh_case).case.answers.alliance
    assert stored["heard"].value == 1
    assert stored["bond"].value == 2 and stored["task_agreement"].value == 3
    assert any("Someone else changed this answer" in w.value for w in at.warning)
    assert at.radio(key="alliance.heard").value == 1
    # Now told, the person can still choose 4 deliberately: that is saved.
    at.radio(key="alliance.heard").set_value(4).run()
    assert services.open_case(fresh_case).case.answers.alliance["heard"].value == 4


def test_two_quick_answers_to_one_question_are_both_saved(app: AppTest, fresh_case):
    """Value and importance of one preference given in one browser message (two quick clicks):
    the first save moves the answer's revision on, and the second, on the other field, is not
    taken for a stale one."""
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.structure").set_value(2)
    at.button_group(key="pref.structure.importance").set_value(3).run()
    stored = services.open_case(fresh_case).case.answers.preferences["structure"]
    assert (stored.value, stored.importance) == (2, 3)
    assert not any("Someone else" in w.value for w in at.warning)


def test_another_tabs_change_to_another_field_is_kept_and_this_change_saved_on_top(
    app: AppTest, fresh_case
):
    """Another tab changes the importance of an answer this page shows; this page's next click
    changes its value. The two touched different fields, so nothing is refused: the value is
    saved on top of the other tab's importance, as if the two had taken turns."""
    at = open_walkthrough(app, fresh_case)
    at.radio(key="pref.structure").set_value(2).run()
    revision = services.open_case(fresh_case).revisions[("preferences", "structure")]
    services.save_answer(
        fresh_case, "preferences", "structure", {"value": 2, "importance": 3}, revision
    )

    at.radio(key="pref.structure").set_value(4).run()
    stored = services.open_case(fresh_case).case.answers.preferences["structure"]
    assert (stored.value, stored.importance) == (4, 3)
    assert not any("Someone else changed" in w.value for w in at.warning)
    assert at.button_group(key="pref.structure.importance").value == 3
