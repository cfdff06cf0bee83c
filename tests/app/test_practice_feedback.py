"""Practice (issue 17): the vignette beside the checklist, and feedback that names the flags found
and missed and explains its importance column."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tailoring import services
from ui.feedback import IMPORTANCE_HELP, ITEM_COLUMNS

SCENARIO = "housing_damp_mould"


def open_practice(at: AppTest) -> AppTest:
    at.switch_page("pages/practice.py")
    at.run()
    at.selectbox(key="practice.scenario").set_value(SCENARIO).run()
    return at.button(key="practice.start").click().run()


def test_the_vignette_sits_beside_the_checklist_at_every_step_while_answering(
    app: AppTest, content
):
    at = open_practice(app)
    scenario = content.scenario(SCENARIO)
    label = f"Vignette: {scenario.title}"
    for step in ("preferences", "social", "alliance"):
        at.button_group(key="walk.step").set_value(step).run()
        assert not at.exception
        columns = list(at.columns)
        story = next(c for c in columns if [e for e in c.get("expander") if e.label == label])
        answers = columns[columns.index(story) + 1]
        assert (story.weight, answers.weight) == (0.4, 0.6)
        assert scenario.vignette.own_words in [t.value for t in story.text]
        assert any(scenario.vignette.social_situation in m.value for m in story.markdown)
        # The checklist is in the other column, not under the vignette.
        widgets = [w.key for w in [*answers.radio, *answers.button_group]]
        assert widgets and all(
            k.startswith(("pref.", "social.", "alliance.")) for k in widgets if k
        ), widgets
    # Submitting: the vignette folds away above the feedback.
    at.button_group(key="walk.step").set_value("report").run()
    assert "The vignette" in [e.label for e in at.expander]
    assert not [e for e in at.expander if e.label.startswith("Vignette:")]


def test_feedback_names_the_flags_found_and_missed_and_explains_importance(app: AppTest, content):
    at = open_practice(app)
    attempt = services.attempts(SCENARIO)[0]
    housing = content.scenario(SCENARIO).reference.social["housing"]
    at.button(key="walk.next").click().run()
    for part in ("present", "maintains", "helping"):
        at.button_group(key=f"social.housing.{part}").set_value(getattr(housing, part)).run()
    at.button_group(key="walk.step").set_value("report").run()
    at.button(key="practice.submit").click().run()
    assert not at.exception
    grade = services.attempt_grade(attempt.id)
    assert "social.housing" in grade.flags.found and grade.flags.missed

    found = next(f for f in grade.found if f.flag_id == "social.housing")
    assert found.title == "Housing: keeps the difficulties going, not yet addressed"
    listed = at.get("markdown")
    found_list = next(m.value for m in listed if m.value.startswith("**Found**"))
    for named in grade.found:
        assert f"{named.severity.capitalize()}: {named.title} ({named.theme_title})" in found_list
    assert len(grade.found) == len(grade.flags.found)
    missed = [e.label for e in at.expander if e.label.startswith("Missed: ")]
    assert len(missed) == len(grade.flags.missed) > 0

    # The importance column, explained above the table and in its header's help.
    assert ITEM_COLUMNS in [c.value for c in at.caption]
    table = next(d for d in at.dataframe if "Importance" in d.value.columns)
    config = json.loads(table.proto.columns)
    assert config["Importance"]["help"] == IMPORTANCE_HELP
