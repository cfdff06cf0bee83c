"""Grading a trainee's attempt: per-item agreement, flags found, missed and extra, and the mark."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tailoring.engine.grading import flag_agreement, grade
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.grade import Grade
from tailoring.model.scenario import Scenario

HOUSING = "housing_damp_mould"  # ba_step2; flags social.housing and social.relationships
FIT = "cbt_depression_fit"  # cbt_depression; no flags; alliance answered


def reference_answers(scenario: Scenario) -> dict[str, Any]:
    return scenario.reference.model_dump()


def attempt(make_case, scenario: Scenario, answers: dict[str, Any]) -> Case:
    return make_case(scenario.protocol_id, scenario.sessions_available, **answers)


def graded(content: ContentLibrary, make_case, scenario_id: str, change=None) -> Grade:
    scenario = content.scenario(scenario_id)
    answers = copy.deepcopy(reference_answers(scenario))
    if change is not None:
        change(answers)
    return grade(content, scenario, attempt(make_case, scenario, answers))


def item(result: Grade, section: str, item_id: str):
    return next(i for i in result.items if i.section == section and i.item_id == item_id)


# --- Whole attempts ----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario_id", [HOUSING, FIT, "dit_confrontation", "gsh_literacy"])
def test_the_reference_answers_score_100(content, make_case, scenario_id) -> None:
    result = graded(content, make_case, scenario_id)
    assert result.mark == 100
    assert result.item_score == 100
    assert result.flag_score == 100
    assert result.flags.precision == result.flags.recall == 1
    assert result.flags.missed == result.flags.extra == []
    assert result.feedback == []
    assert result.counts["exact"] == len(result.items)


def test_an_empty_attempt_scores_0_on_flags_and_misses_every_item(content, make_case) -> None:
    scenario = content.scenario(HOUSING)
    result = grade(content, scenario, attempt(make_case, scenario, {}))
    assert result.flag_score == 0
    assert result.flags.precision == result.flags.recall == 0
    assert result.flags.missed == sorted(scenario.flag_ids())
    assert result.item_score == 0
    assert result.mark == 0
    assert {i.agreement for i in result.items} == {"missing"}
    assert result.counts["missing"] == len(result.items)
    assert all(i.attempt == "not answered" for i in result.items)


def test_no_flag_is_a_right_answer(content, make_case) -> None:
    scenario = content.scenario(FIT)
    result = grade(content, scenario, attempt(make_case, scenario, {}))
    assert result.flags.precision == result.flags.recall == 1
    assert result.flag_score == 100
    assert result.item_score == 0
    assert result.mark == 50


def test_the_protocol_and_sessions_of_the_attempt_file_are_ignored(content, make_case) -> None:
    scenario = content.scenario(HOUSING)
    # DIT with one session would raise the sessions flag and many mismatches.
    case = make_case("dit", 1, **reference_answers(scenario))
    result = grade(content, scenario, case)
    assert result.mark == 100
    assert (result.protocol_id, result.sessions_available) == ("ba_step2", 6)


def test_the_mark_weighs_items_and_flags_equally(content, make_case) -> None:
    def change(a: dict) -> None:
        a["social"]["housing"]["helping"] = "yes"

    result = graded(content, make_case, HOUSING, change)
    assert result.mark == round((result.item_score + result.flag_score) / 2, 1)
    assert result.flags.found == ["social.relationships"]
    assert result.flags.missed == ["social.housing"]
    assert result.flags.recall == 0.5 and result.flags.precision == 1


# --- Items, at the boundaries of exact, close and far ------------------------------------------


@pytest.mark.parametrize(
    ("value", "agreement"), [(1, "exact"), (2, "close"), (3, "far"), (5, "far")]
)
def test_scale_items_by_distance(content, make_case, value, agreement) -> None:
    def change(a: dict) -> None:
        a["preferences"]["focus"]["value"] = value  # reference 1

    assert item(graded(content, make_case, HOUSING, change), "preferences", "focus").agreement == (
        agreement
    )


@pytest.mark.parametrize(
    ("importance", "agreement", "score"),
    [
        (2, "exact", 1.0),
        (3, "close", 0.875),
        (1, "close", 0.875),
        (0, "far", 0.75),
        (None, "missing", 0.75),
    ],
)
def test_importance_is_compared_too(content, make_case, importance, agreement, score) -> None:
    def change(a: dict) -> None:
        a["preferences"]["focus"]["importance"] = importance  # reference 2

    graded_item = item(graded(content, make_case, HOUSING, change), "preferences", "focus")
    assert graded_item.agreement == "exact"
    assert graded_item.importance == agreement
    assert graded_item.score == score


def test_a_close_value_and_close_importance_score_half(content, make_case) -> None:
    def change(a: dict) -> None:
        a["preferences"]["focus"] = {"value": 2, "importance": 3}

    graded_item = item(graded(content, make_case, HOUSING, change), "preferences", "focus")
    assert (graded_item.agreement, graded_item.importance, graded_item.score) == (
        "close",
        "close",
        0.5,
    )


@pytest.mark.parametrize(
    ("value", "agreement"),
    [
        (["symptom_relief", "practical_change"], "exact"),
        (["symptom_relief"], "close"),  # Jaccard 1/2
        (["symptom_relief", "practical_change", "skills"], "close"),  # 2/3
        (["symptom_relief", "skills"], "far"),  # 1/3
        (["understanding"], "far"),
        ([], "missing"),
    ],
)
def test_multi_choice_items_by_overlap(content, make_case, value, agreement) -> None:
    def change(a: dict) -> None:
        a["preferences"]["goals"]["value"] = value

    assert item(graded(content, make_case, HOUSING, change), "preferences", "goals").agreement == (
        agreement
    )


@pytest.mark.parametrize(("value", "agreement"), [("english", "exact"), ("interpreter", "far")])
def test_choice_items_are_exact_or_far(content, make_case, value, agreement) -> None:
    def change(a: dict) -> None:
        a["preferences"]["language"]["value"] = value

    assert item(
        graded(content, make_case, HOUSING, change), "preferences", "language"
    ).agreement == (agreement)


@pytest.mark.parametrize(
    ("answer", "agreement"),
    [
        ({"present": "yes", "maintains": "yes", "helping": "no"}, "exact"),
        ({"present": "yes", "maintains": "yes", "helping": "no", "details": []}, "exact"),
        ({"present": "yes", "maintains": "no", "helping": "no"}, "close"),
        ({"present": "yes"}, "close"),
        ({"present": "unsure", "maintains": "yes", "helping": "no"}, "far"),
        ({"present": "no"}, "far"),
        ({"maintains": "yes"}, "missing"),
    ],
)
def test_social_domains_by_present_maintains_helping(content, make_case, answer, agreement) -> None:
    def change(a: dict) -> None:
        a["social"]["housing"] = answer

    assert item(graded(content, make_case, HOUSING, change), "social", "housing").agreement == (
        agreement
    )


@pytest.mark.parametrize(
    ("value", "agreement"), [(4, "exact"), (3, "close"), (2, "far"), (None, "missing")]
)
def test_alliance_items_by_distance(content, make_case, value, agreement) -> None:
    def change(a: dict) -> None:
        a["alliance"]["goals_agreement"]["value"] = value  # reference 4

    assert item(
        graded(content, make_case, FIT, change), "alliance", "goals_agreement"
    ).agreement == (agreement)


def test_only_items_the_reference_answers_are_graded(content, make_case) -> None:
    def change(a: dict) -> None:
        a["alliance"] = {"bond": {"value": 4}}  # the housing reference rates no alliance item

    result = graded(content, make_case, HOUSING, change)
    assert not [i for i in result.items if i.section == "alliance"]
    assert result.mark == 100


def test_partial_answers_are_graded_item_by_item(content, make_case) -> None:
    def change(a: dict) -> None:
        a["preferences"] = {"focus": a["preferences"]["focus"], "structure": {"value": 5}}
        a["social"] = {"housing": {"present": "yes"}}
        a["alliance"] = {}

    result = graded(content, make_case, HOUSING, change)
    agreements = {i.item_id: i.agreement for i in result.items}
    assert agreements["focus"] == "exact"
    assert agreements["structure"] == "far"
    assert agreements["housing"] == "close"
    assert agreements["money"] == agreements["goals"] == "missing"
    expected = 100 * (1 + 0 + 0.5) / len(result.items)
    assert result.item_score == round(expected, 1)


# --- Flags and feedback -------------------------------------------------------------------------


def test_a_missed_flag_carries_its_rationale_theme_and_the_differing_item(
    content, make_case
) -> None:
    def change(a: dict) -> None:
        a["social"]["housing"]["helping"] = "yes"

    scenario = content.scenario(HOUSING)
    result = graded(content, make_case, HOUSING, change)
    (feedback,) = result.feedback
    assert feedback.outcome == "missed"
    assert feedback.flag_id == "social.housing"
    assert feedback.explanation == scenario.rationale("social.housing")
    assert (feedback.theme, feedback.theme_title) == ("heard", "Being heard")
    assert feedback.severity == "high"
    assert feedback.differing_items == ["social.housing"]
    assert "someone already helping: no" in feedback.why
    assert "someone already helping: yes" in feedback.why


def test_an_extra_flag_carries_the_engine_explanation_theme_and_why_not_expected(
    content, make_case
) -> None:
    def change(a: dict) -> None:
        a["preferences"]["challenge"] = {"value": 5, "importance": 3}  # BA stretches to 3

    result = graded(content, make_case, HOUSING, change)
    assert result.flags.extra == ["pref.challenge"]
    assert result.flags.precision == round(2 / 3, 3) and result.flags.recall == 1
    (feedback,) = result.feedback
    assert feedback.outcome == "extra"
    assert feedback.theme == "alliance"
    assert "Behavioural activation" in feedback.explanation
    assert feedback.differing_items == ["preferences.challenge"]
    assert "Not expected" in feedback.why and "1 of 5" in feedback.why and "5 of 5" in feedback.why


def test_an_extra_flag_on_a_no_flag_scenario_scores_0_on_flags(content, make_case) -> None:
    def change(a: dict) -> None:
        a["alliance"]["rupture_withdrawal"]["value"] = 2

    result = graded(content, make_case, FIT, change)
    assert result.flags.extra == ["alliance.rupture_withdrawal"]
    assert (result.flags.precision, result.flags.recall, result.flag_score) == (0, 1, 0)
    assert result.feedback[0].theme == "alliance"


def test_an_extra_flag_that_depends_on_other_answers_points_to_them(content, make_case) -> None:
    def change(a: dict) -> None:
        a["alliance"]["bond"]["value"] = 2  # reference 4; the weak ratings behind it agree

    result = graded(content, make_case, "gsh_recurrent_depth", change)
    assert result.flags.extra == ["alliance.weak"]
    (feedback,) = result.feedback
    assert feedback.differing_items == ["alliance.bond"]
    assert "also depends on other answers" in feedback.why


@pytest.mark.parametrize(
    ("expected", "raised", "precision", "recall", "f1"),
    [
        (set(), set(), 1, 1, 1),
        ({"a"}, set(), 0, 0, 0),
        (set(), {"a"}, 0, 1, 0),
        ({"a", "b"}, {"a"}, 1, 0.5, 0.667),
        ({"a"}, {"a", "b"}, 0.5, 1, 0.667),
        ({"a", "b"}, {"b", "c"}, 0.5, 0.5, 0.5),
    ],
)
def test_precision_and_recall(expected, raised, precision, recall, f1) -> None:
    result = flag_agreement(expected, raised)
    assert (result.precision, result.recall, result.f1) == (precision, recall, f1)
    assert set(result.found) | set(result.missed) == expected
    assert set(result.found) | set(result.extra) == raised


def test_a_scenario_out_of_date_with_the_content_is_refused(content, make_case) -> None:
    scenario = content.scenario(HOUSING)
    stale = scenario.model_copy(update={"reference_flags": scenario.reference_flags[:1]})
    with pytest.raises(ValueError, match=r"social\.relationships"):
        grade(content, stale, attempt(make_case, scenario, reference_answers(scenario)))


def test_theme_scores_count_items_and_flags_per_theme(content):
    from tailoring.engine.grading import grade, scenario_case, theme_scores

    scenario = content.scenario("housing_damp_mould")
    perfect = grade(content, scenario, scenario_case(scenario, scenario.reference))
    assert set(perfect.found_themes) == {f.id for f in scenario.reference_flags}
    assert all(score == 100.0 for score in theme_scores(perfect).values())
    empty = grade(
        content,
        scenario,
        scenario_case(
            scenario,
            scenario.reference.model_copy(update={"preferences": {}, "social": {}, "alliance": {}}),
        ),
    )
    assert all(score == 0.0 for score in theme_scores(empty).values())
    assert set(theme_scores(empty)) == set(theme_scores(perfect))


def test_the_flags_found_are_named_as_the_report_names_them(content, make_case) -> None:
    def without_relationships(answers: dict[str, Any]) -> None:
        answers["social"]["relationships"] = {"present": "no"}

    result = graded(content, make_case, HOUSING, without_relationships)
    assert result.flags.found == ["social.housing"]
    assert result.flags.missed == ["social.relationships"]
    [found] = result.found
    assert (found.flag_id, found.severity, found.theme_title) == (
        "social.housing",
        "high",
        content.theme(content.social_domain("housing").theme).title,
    )
    assert found.title == "Housing: keeps the difficulties going, not yet addressed"
    # The missed one is named by its feedback entry.
    assert [(e.outcome, e.flag_id) for e in result.feedback] == [("missed", "social.relationships")]
    assert result.feedback[0].title.startswith("Relationships")


def test_a_grade_stored_before_flags_were_named_still_loads(content, make_case) -> None:
    stored = graded(content, make_case, HOUSING).model_dump()
    del stored["found"]
    old = Grade.model_validate(stored)
    assert old.found == [] and old.flags.found
