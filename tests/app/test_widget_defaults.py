"""A browser that draws a bound widget without a value of its own shows the stored answer.

The browser starts such a widget from its *default* and sends that back with its next message
as if the person had chosen it (ui/bound.py's sixth cause: CI's walk-through seed 2 saved a
social domain's details as empty). Every widget drawn through ``bound.show`` must therefore
carry the value it shows as its default too. These tests read the default each widget sends to
the browser and compare it with the value it shows, on every step and page that binds widgets.
"""

from __future__ import annotations

import datetime
from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import ButtonGroup, Checkbox, DateInput, Radio, TextArea

from tailoring import services
from tests.app.conftest import open_walkthrough
from tests.app.test_patient_questionnaires import visit
from tests.app.test_sessions_practice import add_session, answer_measure, open_page

BOUND = ("pref.", "social.", "alliance.", "walk.step", "session.", "patient.")


def _default_and_value(widget: Any) -> tuple[Any, Any]:
    """What the browser shows when it draws ``widget`` from its default, and what it shows now."""
    proto = widget.proto
    if isinstance(widget, Radio):
        return (proto.default if proto.HasField("default") else None), widget.index
    if isinstance(widget, ButtonGroup):
        return sorted(proto.default), sorted(widget.indices)
    if isinstance(widget, TextArea):
        return proto.default, widget.value or ""
    if isinstance(widget, Checkbox):
        return proto.default, widget.value
    if isinstance(widget, DateInput):
        value = widget.value
        assert isinstance(value, datetime.date)
        return list(proto.default), [value.isoformat()]
    raise AssertionError(f"a bound widget of a kind this test does not know: {widget}")


def bound_widgets(at: AppTest) -> list[Any]:
    kinds = (at.radio, at.button_group, at.text_area, at.checkbox, at.date_input)
    return [w for kind in kinds for w in kind if w.key and w.key.startswith(BOUND)]


def assert_defaults_are_shown_values(at: AppTest, at_least: int) -> None:
    widgets = bound_widgets(at)
    assert len(widgets) >= at_least, [w.key for w in widgets]
    wrong = {w.key: pair for w in widgets if (pair := _default_and_value(w))[0] != pair[1]}
    assert not wrong, f"default ≠ shown value (default, shown): {wrong}"
    assert not at.exception


def test_every_walkthrough_widget_defaults_to_the_stored_answer(app: AppTest, fresh_case: int):
    services.save_answer(fresh_case, "preferences", "structure", {"value": 2, "importance": 3})
    services.save_answer(fresh_case, "preferences", "format", {"value": ["video"], "importance": 1})
    services.save_answer(
        fresh_case, "preferences", "therapist_gender", {"value": "no_preference", "importance": 0}
    )
    services.save_answer(
        fresh_case,
        "social",
        "work_benefits",
        {
            "present": "yes",
            "maintains": "unsure",
            "helping": "no",
            "details": ["work_stress"],
            "note": "Shifts change weekly",
        },
    )
    services.save_answer(fresh_case, "alliance", "goals_agreement", {"value": 3})
    at = open_walkthrough(app, fresh_case, "preferences")
    assert at.radio(key="pref.structure").value == 2
    assert_defaults_are_shown_values(at, at_least=20)
    at = open_walkthrough(at, fresh_case, "social")
    assert at.button_group(key="social.work_benefits.details").value == ["work_stress"]
    assert at.text_area(key="social.work_benefits.note").value == "Shifts change weekly"
    assert_defaults_are_shown_values(at, at_least=10)
    at = open_walkthrough(at, fresh_case, "alliance")
    assert_defaults_are_shown_values(at, at_least=4)


def test_every_session_widget_defaults_to_the_stored_session(app: AppTest, fresh_case: int):
    at = open_page(app, "pages/sessions.py", fresh_case)
    add_session(at, 1)
    answer_measure(at, "phq9", [2, 1, 0])
    at.segmented_control(key="session.kind").set_value("treatment").run()
    at.text_area(key="session.note").input("Planned a walk").run()
    at = open_page(at, "pages/sessions.py", fresh_case)
    assert at.radio(key="session.phq9.phq9_1").value == 2
    assert_defaults_are_shown_values(at, at_least=20)


def test_every_patient_question_defaults_to_the_stored_answer(database):
    services.start(load_demo=False)
    case_id = services.new_case("PV-DEF-1", "cbt_depression", 12)
    _, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(code)
    at.radio(key="patient.preferences.structure").set_value(4).run()
    at.radio(key="patient.preferences.structure.importance").set_value(2).run()
    at = visit(code)  # drawn afresh from storage
    assert at.radio(key="patient.preferences.structure").value == 4
    assert_defaults_are_shown_values(at, at_least=4)


def _chooser_default_is_its_choice(at: AppTest, key: str) -> None:
    box = at.selectbox(key=key)
    default = box.proto.default if box.proto.HasField("default") else None
    assert default == box.index, f"{key}: default {default}, shown {box.index}"


def test_choosers_of_what_a_page_works_on_default_to_the_choice_made(app: AppTest, fresh_case: int):
    """Which session, attempt, scenario or case a page shows is not an answer, but a browser
    that draws its chooser without a value took the first option (practice seed 9162 answered
    another attempt than the one on the screen): each chooser's default is its current choice."""
    for number, day in ((1, datetime.date(2026, 11, 2)), (2, datetime.date(2026, 11, 9))):
        services.record_session(
            fresh_case, {"number": number, "date": day, "attendance": "attended"}, 0
        )
    at = open_page(app, "pages/sessions.py", fresh_case)
    at.selectbox(key="sessions.pick").set_value(1).run()
    assert at.selectbox(key="sessions.pick").index == 1
    _chooser_default_is_its_choice(at, "sessions.pick")

    older = services.start_attempt("housing_damp_mould")
    services.start_attempt("housing_damp_mould")
    at = open_page(at, "pages/practice.py")
    at.selectbox(key="practice.scenario").set_value("housing_damp_mould").run()
    key = "practice.attempt.housing_damp_mould"
    at.selectbox(key=key).set_value(older).run()
    assert at.selectbox(key=key).index == 1
    _chooser_default_is_its_choice(at, key)
    _chooser_default_is_its_choice(at, "practice.scenario")

    services.new_case("APP-002", "cbt_depression", 12)
    at = open_page(at, "pages/cases.py")
    at.selectbox(key="cases.selected").set_value("APP-002").run()
    _chooser_default_is_its_choice(at, "cases.selected")
