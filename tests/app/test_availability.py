"""The walk-through asks the times the patient can attend, saves them, and the report uses them."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tailoring import services
from tests.app.conftest import open_walkthrough

CANNOT_ATTEND = "Times you can attend: the protocol meets at set hours the patient cannot attend"


def test_the_walkthrough_shows_and_saves_the_times_and_the_report_checks_the_group_hours(
    app: AppTest,
):
    case_id = services.new_case("APP-017", "psychoed_group", 6)
    at = open_walkthrough(app, case_id)
    times = at.button_group(key="pref.availability")
    assert times.label == (
        "Which times could you come to sessions? Choose every time that would work for you."
    )
    assert times.options == [
        "Weekdays, during the day",
        "Weekday evenings",
        "Weekends",
    ]
    assert any(
        m.value.startswith("**Times you can attend** · _Personalised, not one-size-fits-all_")
        for m in at.markdown
    )

    times.set_value(["weekday_evening", "weekend"]).run()
    at.button_group(key="pref.availability.importance").set_value(3).run()
    assert not at.exception
    stored = services.open_case(case_id).case.answers.preferences["availability"]
    assert (stored.value, stored.importance) == (["weekday_evening", "weekend"], 3)
    assert at.button_group(key="pref.availability").value == ["weekday_evening", "weekend"]

    at.button_group(key="walk.step").set_value("report").run()
    assert not at.exception
    assert CANNOT_ATTEND in [e.label for e in at.expander]
    text = " ".join(m.value for m in at.markdown)
    assert "Times you can attend: Weekday evenings, Weekends (essential)" in text
    assert "Offer appointment times that fit" in text

    # Times the group meets at: the flag goes, and the answer is kept on coming back.
    at.button_group(key="walk.step").set_value("preferences").run()
    at.button_group(key="pref.availability").set_value(["weekday_daytime"]).run()
    at.button_group(key="walk.step").set_value("report").run()
    assert CANNOT_ATTEND not in [e.label for e in at.expander]
    assert services.open_case(case_id).case.answers.preferences["availability"].value == [
        "weekday_daytime"
    ]
