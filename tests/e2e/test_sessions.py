"""Sessions in a real browser: three sessions entered item by item, then the case's timeline.

The case is made through ``tailoring.services`` on the server's database; everything about the
sessions is entered by clicking, and checked both on the timeline page and in the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from playwright.sync_api import Locator, Page, expect

from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure
from tests.e2e.conftest import (
    AppServer,
    by_key,
    choose,
    click,
    expander_summary,
    goto,
    no_error_on_page,
    pick_radio,
    radio_inputs,
    screenshot,
    segment,
)

pytestmark = pytest.mark.e2e

REFERENCE = "E2E-S001"
# Item values, in item order. Item 9 of the PHQ-9 (the risk item) stays 0 throughout.
SESSIONS = {
    1: {"phq9": [2, 2, 2, 2, 2, 2, 3, 3, 0], "gad7": [2, 2, 2, 2, 2, 2, 3]},  # 18 and 15
    2: {"phq9": [2, 2, 2, 2, 2, 2, 2, 3, 0], "gad7": [2, 2, 2, 2, 2, 1, 3]},  # 17 and 14
    3: {"phq9": [2, 2, 1, 1, 1, 1, 2, 1, 0], "gad7": [2, 2, 1, 1, 1, 1, 2]},  # 11 and 10
}
RUPTURE_ITEM = "rupture_withdrawal"
RUPTURE_AT = {3: "Some signs"}


def open_tab(page: Page, name: str) -> None:
    """Show a tab of the session (tabs switch in the browser, without a rerun)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def answer_measure(page: Page, measure: Measure, values: Sequence[int]) -> None:
    """Answer every item of a measure on its tab by clicking the option of each value."""
    assert len(values) == len(measure.items), f"{measure.id}: one value per item"
    labels = {o.value: f"{o.value} · {o.label}" for o in measure.options}
    open_tab(page, measure.short_name)
    for item, value in zip(measure.items, values, strict=True):
        key = f"session.{measure.id}.{item.id}"
        pick_radio(page, key, labels[value])
        expect(radio_inputs(page, key).nth(value)).to_be_checked()
    total = sum(values)
    band = measure.band(total).label
    summary = f"{measure.short_name} total {total} of {measure.max_total}: {band}"
    expect(page.get_by_test_id("stAlert").filter(has_text=summary)).to_be_visible()


def high_alliance(lib: ContentLibrary, rupture: str | None = None) -> dict[str, str]:
    """The best answer to every alliance item: the top rating (the bottom one on a reverse-scored
    item) and no rupture signs, unless ``rupture`` names the withdrawal item's label."""
    answers = {}
    for item in lib.alliance:
        best = item.labels[0] if item.kind == "rupture" or item.reverse else item.labels[-1]
        answers[item.id] = best
    if rupture is not None:
        answers[RUPTURE_ITEM] = rupture
    return answers


def answer_alliance(page: Page, lib: ContentLibrary, answers: dict[str, str]) -> None:
    open_tab(page, "Alliance check")
    for item in lib.alliance:
        key = f"session.alliance.{item.id}"
        pick_radio(page, key, answers[item.id])
        expect(radio_inputs(page, key).nth(item.labels.index(answers[item.id]))).to_be_checked()


def add_session(page: Page, number: int) -> None:
    """Add an attended treatment session through the "New session" form (its defaults)."""
    box = by_key(page, "sessions.pick")
    if box.get_by_role("combobox").input_value() != f"New session ({number})":
        choose(page, "sessions.pick", f"New session ({number})")
    # A form's own key gives it no st-key- class; its widgets' keys do.
    form = page.get_by_test_id("stForm")
    attendance = by_key(form, "sessions.new.attendance").get_by_role("combobox")
    expect(attendance).to_have_value("Attended")
    expect(by_key(form, "sessions.new.kind").get_by_role("combobox")).to_have_value("Treatment")
    click(page, form.get_by_role("button", name=f"Add session {number}"))
    expect(box.get_by_role("combobox")).to_have_value(f"Session {number}")
    expect(segment(page, "session.attendance", "Attended")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(segment(page, "session.kind", "Treatment")).to_have_attribute("aria-checked", "true")


def badge(page: Page, label: str) -> Locator:
    """The badge under an outcome label on the timeline (each label has a column of its own)."""
    column = page.get_by_test_id("stColumn").filter(
        has=page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(rf"^{label}$"))
    )
    expect(column).to_have_count(1)
    return column.locator("span.stMarkdownBadge")


def test_three_sessions_entered_item_by_item_show_on_the_timeline(
    page: Page, app_server: AppServer, app_services
):
    lib = app_services.content()
    phq9, gad7 = lib.measure("phq9"), lib.measure("gad7")
    case_id = app_services.new_case(REFERENCE, "cbt_depression", 12)

    goto(page, f"{app_server.url}/sessions?case={case_id}")
    expect(page.get_by_role("heading", name=f"Sessions · {REFERENCE}")).to_be_visible()
    expect(by_key(page, "sessions.pick").get_by_role("combobox")).to_have_value("New session (1)")

    for number, values in SESSIONS.items():
        add_session(page, number)
        answer_alliance(page, lib, high_alliance(lib, RUPTURE_AT.get(number)))
        answer_measure(page, phq9, values["phq9"])
        answer_measure(page, gad7, values["gad7"])
        no_error_on_page(page)
        if number == 1:
            open_tab(page, phq9.short_name)
            screenshot(page, "sessions-1-phq9")
    open_tab(page, "Alliance check")
    screenshot(page, "sessions-3-alliance")

    # The database holds what was clicked: three attended treatment sessions, scored.
    stored = app_services.open_case(case_id)
    fit = app_services.assess_case(stored.case)
    assert [(s.number, s.attendance, s.kind) for s in stored.case.sessions] == [
        (n, "attended", "treatment") for n in SESSIONS
    ]
    totals = {
        s.number: {score.measure_id: score.total for score in s.scores if score.complete}
        for s in fit.sessions
    }
    assert totals == {n: {m: sum(v) for m, v in vals.items()} for n, vals in SESSIONS.items()}
    assert stored.case.sessions[-1].alliance[RUPTURE_ITEM].value == 1
    assert fit.outcomes is not None
    assert fit.outcomes.reliable_improvement == "yes"
    session_flags = [f for f in fit.flags if f.id.startswith("session.")]
    rupture = [f for f in session_flags if f.id == "session.rupture"]
    assert len(rupture) == 1

    goto(page, f"{app_server.url}/timeline?case={case_id}")
    expect(page.get_by_role("heading", name=f"Timeline · {REFERENCE}")).to_be_visible()
    expect(badge(page, "Reliable improvement")).to_have_text("Yes")
    expect(badge(page, "Caseness at start")).to_have_text("Yes")
    expect(badge(page, "Reliable deterioration")).to_have_text("No")
    # Three treatment sessions, but the referral has not ended: not a finished course yet.
    expect(badge(page, "Finished course")).to_have_text("No (3 attended, referral open)")
    for key in ("timeline.phq9", "timeline.gad7", "timeline.alliance", "timeline.attendance"):
        expect(by_key(page, key).locator(".main-svg").first).to_be_attached()

    expect(page.get_by_role("heading", name="Session flags")).to_be_visible()
    expect(page.get_by_test_id("stExpander")).to_have_count(len(session_flags))
    for flag in session_flags:
        expect(expander_summary(page, flag.title)).to_be_visible()
    expect(expander_summary(page, rupture[0].title)).to_have_count(1)
    no_error_on_page(page)
    screenshot(page, "timeline")
