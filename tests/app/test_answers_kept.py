"""Answers kept through faults: an outage and its retry, clearing a multi-choice answer, undo.

Before ui/bound.py a retry after an outage saved every preference as empty and said "All answers
are saved."; deselecting every option of "format" saved ``{"value": null}`` and broke the step.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.storage.caseload import CaseloadRepository
from tests.app.conftest import open_walkthrough, sign_in

GIVEN = {
    "structure": {"value": 2, "importance": 2},
    "focus": {"value": 4, "importance": 1},
    "format": {"value": ["in_person", "video"], "importance": 3},
}


def _answer_case(case_id: int) -> None:
    for item_id, answer in GIVEN.items():
        services.save_answer(case_id, "preferences", item_id, answer)


def _stored(case_id: int) -> dict[str, dict]:
    answers = services.open_case(case_id).case.answers.preferences
    return {item_id: a.model_dump() for item_id, a in answers.items()}


def _down() -> None:
    raise services.StorageUnavailable()


def test_an_outage_keeps_the_answer_given_and_a_retry_saves_exactly_it(
    app: AppTest, fresh_case: int, monkeypatch
):
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    with monkeypatch.context() as outage:
        outage.setattr(services, "save_answer", lambda *a, **k: _down())
        at.radio(key="pref.structure").set_value(5).run()
        assert any("Not saved" in e.value for e in at.error)
        assert at.radio(key="pref.structure").value == 5
        # The database stays down for the next click: the page says so, not "open a case".
        outage.setattr(services, "open_case", lambda *a, **k: _down())
        at.run()
        assert any("cannot be used right now" in e.value for e in at.error)
        assert not any("Open or create a case first" in i.value for i in at.info)
    assert _stored(fresh_case) == GIVEN
    at.run()
    assert at.radio(key="pref.structure").value == 5
    assert any("not yet saved" in e.value for e in at.error)
    assert "not saved" in " ".join(m.value for m in at.markdown)
    audited = len(services.audit_entries(action="changed"))

    at.button(key="checklist.retry").click().run()
    assert _stored(fresh_case) == {**GIVEN, "structure": {"value": 5, "importance": 2}}
    assert len(services.audit_entries(action="changed")) == audited + 1
    assert any("now saved" in s.value for s in at.success)
    assert not at.exception


def test_an_answer_whose_figures_fail_is_not_saved_kept_on_the_page_and_saved_by_a_retry(
    app: AppTest, fresh_case: int, monkeypatch
):
    """The answer is stored, then its caseload figures fail: the whole save is undone (one unit
    of work), so the page's "Not saved" is true, and the retry saves it with its audit entry."""
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    audited = len(services.audit_entries(action="changed"))
    with monkeypatch.context() as broken:
        broken.setattr(CaseloadRepository, "save_figures", lambda *a, **k: _lost())
        at.radio(key="pref.structure").set_value(5).run()
        assert any("Not saved" in e.value for e in at.error)
        assert at.radio(key="pref.structure").value == 5
    assert _stored(fresh_case) == GIVEN
    assert len(services.audit_entries(action="changed")) == audited
    at.run()
    assert at.radio(key="pref.structure").value == 5
    assert any("not yet saved" in e.value for e in at.error)

    at.button(key="checklist.retry").click().run()
    assert _stored(fresh_case) == {**GIVEN, "structure": {"value": 5, "importance": 2}}
    assert len(services.audit_entries(action="changed")) == audited + 1
    assert any("now saved" in s.value for s in at.success)
    assert not at.exception


def _lost() -> None:
    raise OperationalError("INSERT INTO case_metrics ...", {}, Exception("connection lost"))


def test_clearing_every_option_of_a_multi_choice_works_and_can_be_undone(
    app: AppTest, fresh_case: int
):
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    at.button_group(key="pref.format").set_value([]).run()
    assert not at.exception
    assert not any("Something went wrong" in e.value for e in at.error)
    assert _stored(fresh_case)["format"] == {"value": None, "importance": 3}
    assert at.button_group(key="pref.format").value == []
    # Every item after it is still drawn.
    assert at.radio(key="pref.therapist_gender") is not None

    at.button(key="checklist.undo").click().run()
    assert _stored(fresh_case)["format"] == GIVEN["format"]
    assert at.button_group(key="pref.format").value == ["in_person", "video"]
    assert not at.exception


def test_an_unchanged_value_saves_nothing_and_audits_nothing(app: AppTest, fresh_case: int):
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    audited = len(services.audit_entries(action="changed"))
    at.radio(key="pref.structure").set_value(2).run()
    at.button_group(key="pref.structure.importance").set_value(2).run()
    assert len(services.audit_entries(action="changed")) == audited
    assert _stored(fresh_case) == GIVEN


@pytest.mark.usefixtures("team")
def test_case_review_without_a_case_points_a_supervisor_to_the_caseload():
    at = sign_in("sam")
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert not any("Something went wrong" in e.value for e in at.error)
    assert any("Open or create a case first" in i.value for i in at.info)


def test_an_emptied_note_stays_until_the_person_confirms_clearing_it(app: AppTest, fresh_case: int):
    services.save_answer(
        fresh_case,
        "social",
        "housing",
        {"present": "yes", "maintains": "yes", "note": "Damp since the winter"},
    )
    at = open_walkthrough(app, fresh_case, "social")
    at.text_area(key="social.housing.note").input("").run()
    stored = services.open_case(fresh_case).case.answers.social["housing"]
    assert stored.note == "Damp since the winter"
    assert at.text_area(key="social.housing.note").value == "Damp since the winter"
    assert any("The note on Housing was emptied" in w.value for w in at.warning)

    at.button(key="checklist.clear_note").click().run()
    assert services.open_case(fresh_case).case.answers.social["housing"].note == ""
    assert at.text_area(key="social.housing.note").value == ""
    assert not at.exception


def test_several_answers_emptied_by_one_browser_message_are_refused(app: AppTest, fresh_case: int):
    _answer_case(fresh_case)
    goals = {"value": ["skills"], "importance": 2}
    services.save_answer(fresh_case, "preferences", "goals", goals)
    given = {**GIVEN, "goals": goals}
    at = open_walkthrough(app, fresh_case)
    # As a browser that drew these widgets without their values sends them back: all at once.
    at.button_group(key="pref.format").set_value([])
    at.button_group(key="pref.goals").set_value([])
    at.button_group(key="pref.structure.importance").set_value(None)
    at.run()
    assert _stored(fresh_case) == given
    assert at.button_group(key="pref.format").value == ["in_person", "video"]
    assert at.button_group(key="pref.structure.importance").value == 2
    # One multi-choice emptied by itself is a person's doing. A segmented control cannot be
    # emptied by a person (it is required): even one emptied by itself is stale; "Doesn't
    # matter" (0) is an answer.
    at.button_group(key="pref.goals").set_value([]).run()
    at.button_group(key="pref.structure.importance").set_value(None).run()
    at.button_group(key="pref.focus.importance").set_value(0).run()
    assert _stored(fresh_case)["goals"] == {"value": None, "importance": 2}
    assert _stored(fresh_case)["structure"] == {"value": 2, "importance": 2}
    assert _stored(fresh_case)["focus"] == {"value": 4, "importance": 0}
    assert not at.exception


def test_a_checklist_step_does_not_assess_the_whole_case_on_each_click(
    app: AppTest, fresh_case, monkeypatch
):
    # The full assessment weighs every other protocol (the report's alternatives); a checklist
    # step needs only how many questions are answered, so a click stays near Streamlit's floor.
    assessed = []
    real = services.assess_case
    monkeypatch.setattr(services, "assess_case", lambda c: assessed.append(1) or real(c))
    at = open_walkthrough(app, fresh_case, "preferences")
    at.radio(key="pref.structure").set_value(4).run()
    assert assessed == [] and not at.exception
    assert services.open_case(fresh_case).case.answers.preferences["structure"].value == 4
    at = open_walkthrough(at, fresh_case, "report")
    assert assessed and not at.exception


def test_a_widget_the_browser_no_longer_holds_is_sent_its_stored_value(
    app: AppTest, fresh_case: int
):
    """The browser drops a widget's value when a completed run's end reaches it together with a
    newer run's first elements (React applies both, then drops what the newer elements replaced);
    if that newer run is then stopped by a click, the server still counts the widget as drawn and
    its value as held, and drew it again without a value: the browser showed it blank (the busy
    e2e test saw 9 preferences blank, all stored). The next run's message does not carry the
    widget, so the server must send it its stored value."""
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    dropped = {"pref.structure", "pref.structure.importance"}
    keep = at._tree.get_widget_states

    def without_dropped():
        states = keep()
        held = [w for w in states.widgets if not any(w.id.endswith(k) for k in dropped)]
        assert len(held) == len(states.widgets) - len(dropped)
        del states.widgets[:]
        states.widgets.extend(held)
        return states

    at._tree.get_widget_states = without_dropped
    at.run()
    structure = at.radio(key="pref.structure")
    importance = at.button_group(key="pref.structure.importance")
    assert structure.proto.set_value and importance.proto.set_value
    assert (structure.value, importance.value) == (2, 2)
    assert not at.radio(key="pref.focus").proto.set_value  # one the browser holds: left alone
    assert _stored(fresh_case) == GIVEN


def test_a_value_given_as_the_step_changed_is_saved_not_dropped(app: AppTest, fresh_case: int):
    """A click on a widget still on the screen after the server completed a step change without
    it (the step the person asked for a moment before is not drawn yet): the browser's next
    message carries the widget's new value although the run left it out. Streamlit keeps a
    widget's callback when it drops its value, so the callback still saves the answer; this
    pins that, since a run that left the value unsaved would lose it silently."""
    _answer_case(fresh_case)
    at = open_walkthrough(app, fresh_case)
    structure = next(
        w for w in at._tree.get_widget_states().widgets if w.id.endswith("pref.structure")
    )
    options = at.radio(key="pref.structure").options
    at.button_group(key="walk.step").set_value("social").run()
    assert "pref.structure" not in {r.key for r in at.radio}
    # The browser's next message still carries the radio, with the person's new choice (4).
    late = type(structure)()
    late.CopyFrom(structure)
    assert options[3].startswith("4")
    late.string_value = options[3]  # a radio's value travels as its label
    keep = at._tree.get_widget_states

    def with_late_click():
        states = keep()
        states.widgets.append(late)
        return states

    at._tree.get_widget_states = with_late_click
    at.run()
    assert not at.exception
    assert _stored(fresh_case)["structure"] == {"value": 4, "importance": 2}
    # Saved once: the next message, without the radio, changes nothing more.
    at._tree.get_widget_states = keep
    at.run()
    assert _stored(fresh_case)["structure"] == {"value": 4, "importance": 2}
    assert not [e for e in at.error if "not yet saved" in e.value]
