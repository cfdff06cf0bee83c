"""The times a patient can attend, against protocols that meet at fixed hours (issue 17)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tailoring.engine.assess import assess
from tailoring.engine.batch import case_matrix, overall_fits, protocol_matrix
from tailoring.export.text import practicalities, session_plan_text
from tests.content_edits import content_problems, edit_yaml, has_problem

EVENINGS = ["weekday_evening", "weekend"]


def dim(report, item_id: str):
    return next(d for d in report.dimensions if d.item_id == item_id)


def flag(report, flag_id: str):
    return next((f for f in report.flags if f.id == flag_id), None)


def availability(value: list[str], importance: int | None = 3) -> dict:
    return {"availability": {"value": value, "importance": importance}}


def test_the_item_is_a_checklist_preference_with_its_theme(content):
    item = content.preference("availability")
    assert (item.kind, item.compare, item.theme) == ("multi", "availability", "personalisation")
    assert item.option_ids() == ["weekday_daytime", "weekday_evening", "weekend"]
    assert "availability" in [i.id for i in content.compared_items]


def test_the_psychoeducational_group_declares_its_daytime_hours(content):
    hours = content.protocol("psychoed_group").fixed_hours
    assert hours is not None and hours.times == ["weekday_daytime"]
    assert "afternoon" in hours.description
    # Every protocol that demands fixed daytime attendance says when it meets.
    for protocol in content.protocols:
        if "daytime" in protocol.demands:
            assert protocol.fixed_hours is not None, protocol.id


def test_a_patient_free_only_in_the_evenings_cannot_attend_the_daytime_group(content, make_case):
    report = assess(content, make_case("psychoed_group", 6, preferences=availability(EVENINGS)))
    d = dim(report, "availability")
    assert (d.status, d.fit) == ("mismatch", 0.0)
    assert "1:30 to 3 pm" in d.explanation and "weekday evenings, weekends" in d.explanation
    raised = flag(report, "pref.availability")
    assert raised is not None
    assert raised.severity == "high"  # essential: distance 2 × importance 3
    assert raised.theme == "personalisation"
    assert raised.title == (
        "Times you can attend: the protocol meets at set hours the patient cannot attend"
    )
    assert [a.adaptation_id for a in raised.actions] == [
        "offer_flexible_times",
        "discuss_preferences",
        "consider_alternative_format",
    ]
    assert [t.answer for t in raised.triggers] == ["Weekday evenings, Weekends (essential)"]
    # The action reaches the session plan, and a high mismatch there asks for a review.
    titles = [item.title for item in report.session_plan]
    assert "Offer appointment times that fit" in titles
    assert titles[-1] == "Review Psychoeducational group in supervision"


@pytest.mark.parametrize(("importance", "severity"), [(1, "low"), (2, "medium"), (None, "low")])
def test_the_severity_follows_how_much_the_times_matter(content, make_case, importance, severity):
    case = make_case("psychoed_group", 6, preferences=availability(EVENINGS, importance))
    assert flag(assess(content, case), "pref.availability").severity == severity


def test_times_that_do_not_matter_raise_nothing(content, make_case):
    report = assess(content, make_case("psychoed_group", 6, preferences=availability(EVENINGS, 0)))
    assert flag(report, "pref.availability") is None
    assert "carries no weight" in dim(report, "availability").explanation


def test_one_time_in_common_is_enough(content, make_case):
    prefs = availability(["weekday_daytime", "weekend"])
    report = assess(content, make_case("psychoed_group", 6, preferences=prefs))
    assert (dim(report, "availability").status, dim(report, "availability").fit) == ("fit", 100)
    assert flag(report, "pref.availability") is None


def test_a_protocol_without_set_hours_agrees_times_with_the_patient(content, make_case):
    report = assess(content, make_case("cbt_depression", 16, preferences=availability(["weekend"])))
    d = dim(report, "availability")
    assert (d.status, d.fit) == ("fit", 100.0)
    assert d.explanation == (
        "CBT for depression has no set hours: agree times with the patient (weekends)."
    )
    assert flag(report, "pref.availability") is None


def test_the_format_check_names_hours_the_patient_cannot_attend(content, make_case):
    prefs = {"format": {"value": ["group"], "importance": 2}, **availability(EVENINGS)}
    report = assess(content, make_case("psychoed_group", 6, preferences=prefs))
    assert dim(report, "format").status == "fit"
    assert dim(report, "format").explanation == (
        "The usual format (in a group) suits the patient. But it meets only at set hours "
        "(A weekday afternoon, 1:30 to 3 pm, at a community venue (set your service's own)), "
        "when the patient cannot attend."
    )
    daytime = {"format": {"value": ["group"], "importance": 2}, **availability(["weekday_daytime"])}
    fitting = assess(content, make_case("psychoed_group", 6, preferences=daytime))
    assert dim(fitting, "format").explanation == "The usual format (in a group) suits the patient."


def test_the_plan_states_the_times_among_the_practicalities(content, make_case):
    prefs = {"format": {"value": ["in_person"], "importance": 1}, **availability(EVENINGS, 2)}
    report = assess(content, make_case("cbt_depression", 16, preferences=prefs))
    assert practicalities(report) == [
        "Ways of meeting: In person (matters a little)",
        "Times you can attend: Weekday evenings, Weekends (matters a lot)",
    ]
    text = session_plan_text(report, date(2026, 12, 7))
    assert "- Times you can attend: Weekday evenings, Weekends (matters a lot)" in text


def test_batch_scoring_agrees_with_the_engine_on_times(content, make_case):
    cases = [
        make_case("psychoed_group", 6, preferences=availability(EVENINGS)),
        make_case("psychoed_group", 6, preferences=availability(["weekday_daytime"], 1)),
        make_case(
            "cbt_depression",
            16,
            preferences={**availability(["weekend"]), "structure": {"value": 5, "importance": 1}},
        ),
    ]
    fits = overall_fits(content, case_matrix(content, cases), protocol_matrix(content))
    ids = [p.id for p in content.protocols]
    for row, case in zip(fits, cases, strict=True):
        for column, protocol in enumerate(content.protocols):
            expected = assess(content, case.model_copy(update={"protocol_id": protocol.id}))
            got = None if row[column] != row[column] else float(row[column])
            assert got == expected.overall_fit, (case.answers.preferences, ids[column])


# Content validation ------------------------------------------------------------------------


def test_daytime_hours_without_the_daytime_demand_are_refused(content_copy: Path):
    def change(protocol: dict) -> None:
        protocol["demands"].remove("daytime")

    edit_yaml(content_copy / "protocols" / "psychoed_group.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, "psychoed_group", "fixed_hours", "daytime")


def test_hours_must_be_times_the_availability_item_offers(content_copy: Path):
    def change(items: list) -> None:
        item = next(i for i in items if i["id"] == "availability")
        item["options"] = [o for o in item["options"] if o["id"] != "weekday_daytime"]

    edit_yaml(content_copy / "preferences.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, "protocols.psychoed_group.fixed_hours.times", "weekday_daytime")
