"""Practice in a real browser: a scenario attempted, submitted, graded, reloaded and exported."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ARTIFACTS,
    AppServer,
    by_key,
    choose,
    click,
    expander_summary,
    goto,
    new_page,
    no_error_on_page,
    pick_pill,
    pick_radio,
    pick_segment,
    radio_inputs,
    reload,
    screenshot,
    segment,
    settle_paint,
    settles,
    step_button,
)

pytestmark = pytest.mark.e2e

SCENARIO = "housing_damp_mould"
TRI_LABELS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
# The preferences answered (as the reference has them): a scale and a multi-choice item.
SCALE = "practice"
MULTI = "format"
SUBMIT_STEP = "Submit and feedback"


def open_scenario(page: Page, lib, scenario) -> None:
    """Narrow the list with the protocol and difficulty filters, then pick the scenario."""
    choose(page, "practice.protocol", lib.protocol(scenario.protocol_id).name)
    choose(page, "practice.level", scenario.difficulty.capitalize())
    label = f"{scenario.title} · {scenario.difficulty}"
    field = by_key(page, "practice.scenario").get_by_role("combobox")
    if field.input_value() != label:
        choose(page, "practice.scenario", label)
    expect(field).to_have_value(label)
    expect(page.get_by_role("heading", name=scenario.title)).to_be_visible()


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def feedback_is_shown(page: Page, grade, housing_title: str) -> None:
    """The graded feedback of an attempt, as the grade stored in the database has it."""
    expect(step_button(page, 4, SUBMIT_STEP)).to_have_attribute("aria-checked", "true")
    expect(metric(page, "Overall mark")).to_have_text(f"{grade.mark:.0f} / 100")
    expect(metric(page, "Precision · recall")).to_have_text(
        f"{grade.flags.precision:.2f} · {grade.flags.recall:.2f}"
    )
    expect(
        page.get_by_text(
            f"Flags: {len(grade.flags.found)} found, {len(grade.flags.missed)} missed, "
            f"{len(grade.flags.extra)} extra."
        )
    ).to_be_visible()
    for entry in grade.feedback:
        verb = "Missed" if entry.outcome == "missed" else "Extra"
        expect(expander_summary(page, f"{verb}: {entry.title}")).to_be_visible()
    # The housing flag was found, so it is neither missed nor extra.
    expect(expander_summary(page, housing_title)).to_have_count(0)
    no_error_on_page(page)


def test_a_practice_attempt_is_graded_and_its_feedback_survives_a_reload(
    page: Page, app_server: AppServer, app_services
):
    lib = app_services.content()
    scenario = app_services.scenario(SCENARIO)
    reference = scenario.reference
    housing = reference.social["housing"]
    cases_before = {c.reference for c in app_services.list_cases(include_archived=True)}

    goto(page, f"{app_server.url}/practice")
    expect(page.get_by_role("heading", name="Practice")).to_be_visible()
    open_scenario(page, lib, scenario)
    click(page, by_key(page, "practice.start").get_by_role("button"))
    attempt = app_services.attempts(SCENARIO)[0]
    assert app_services.attempt_grade(attempt.id) is None
    attempt_box = by_key(page, f"practice.attempt.{SCENARIO}").get_by_role("combobox")
    expect(attempt_box).to_have_value(f"{attempt.reference} · not submitted")
    expect(step_button(page, 1, "Preferences")).to_have_attribute("aria-checked", "true")

    # 1. Two preferences, as the reference answers them (value and importance).
    scale_item = lib.preference(SCALE)
    scale = reference.preferences[SCALE]
    pick_radio(page, f"pref.{SCALE}", f"{scale.value} · {scale_item.labels[scale.value - 1]}")
    pick_segment(page, f"pref.{SCALE}.importance", lib.importance_labels[scale.importance])
    expect(radio_inputs(page, f"pref.{SCALE}").nth(scale.value - 1)).to_be_checked()
    multi_item = lib.preference(MULTI)
    multi = reference.preferences[MULTI]
    names = {o.id: o.label for o in multi_item.options}
    for option in multi.value:
        pick_pill(page, f"pref.{MULTI}", names[option])
    pick_segment(page, f"pref.{MULTI}.importance", lib.importance_labels[multi.importance])
    expect(step_button(page, 1, "Preferences")).to_have_text(re.compile(r"\(2/14\)"))
    no_error_on_page(page)

    # 2. Housing, as the reference: present, keeps the low mood going, nobody helping.
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 2, "Social context")).to_have_attribute("aria-checked", "true")
    for part in ("present", "maintains", "helping"):
        pick_segment(page, f"social.housing.{part}", TRI_LABELS[getattr(housing, part)])
        expect(
            segment(page, f"social.housing.{part}", TRI_LABELS[getattr(housing, part)])
        ).to_have_attribute("aria-checked", "true")
    screenshot(page, "practice-1-social")

    # 3. Nothing to rate on the alliance (no sessions yet), then the last step.
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 3, "Alliance check")).to_have_attribute("aria-checked", "true")
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 4, SUBMIT_STEP)).to_have_attribute("aria-checked", "true")
    expect(by_key(page, "walk.next")).to_have_count(0)
    click(page, by_key(page, "practice.submit").get_by_role("button"))

    grade = app_services.attempt_grade(attempt.id)
    assert grade is not None
    assert "social.housing" in grade.flags.found
    assert "social.housing" not in grade.flags.missed
    assert grade.flags.missed or grade.flags.extra
    stored = app_services.open_case(attempt.id)
    assert stored.kind == "attempt"
    housing_flag = [
        f for f in app_services.assess_case(stored.case).flags if f.id == "social.housing"
    ]
    assert len(housing_flag) == 1
    feedback_is_shown(page, grade, housing_flag[0].title)
    # The attempt's label in the picker shows its new mark.
    expect(attempt_box).to_have_value(f"{attempt.reference} · mark {grade.mark:.0f}")
    expect(page.get_by_role("heading", name="Your progress")).to_be_visible()
    expect(by_key(page, "practice.progress.marks").locator(".main-svg").first).to_be_attached()
    screenshot(page, "practice-2-feedback")

    # A reload loses the session: the scenario and attempt come back from the address bar, the
    # step and the grade from the database.
    expect(page).to_have_url(re.compile(rf"[?&]scenario={SCENARIO}(&|$)"))
    expect(page).to_have_url(re.compile(rf"[?&]attempt={attempt.id}(&|$)"))
    reload(page)
    expect(page.get_by_role("heading", name=scenario.title)).to_be_visible()
    expect(attempt_box).to_have_value(f"{attempt.reference} · mark {grade.mark:.0f}")
    feedback_is_shown(page, grade, housing_flag[0].title)
    screenshot(page, "practice-3-after-reload")

    # The progress CSV: one row per graded attempt, this one included.
    with settles(page), page.expect_download() as download_info:
        by_key(page, "practice.export").get_by_role("button").click()
    download = download_info.value
    assert download.suggested_filename == "practice-progress.csv"
    text = download.path().read_text(encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "practice-progress.csv").write_text(text, encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    themes = [t.title for t in lib.themes]
    assert rows[0] == [
        "attempt",
        "scenario",
        "graded",
        "mark",
        "items",
        "flags",
        "precision",
        "recall",
        *themes,
    ]
    mine = [dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == attempt.reference]
    assert len(mine) == 1
    assert mine[0]["scenario"] == scenario.title
    assert float(mine[0]["mark"]) == pytest.approx(grade.mark)

    # Practice attempts never show up as cases.
    assert {c.reference for c in app_services.list_cases(include_archived=True)} == cases_before


def test_the_vignette_stays_in_view_while_answering_an_item_low_on_the_page(
    browser: Browser, app_server: AppServer, app_services
):
    """Issue 17: the vignette scrolled out of view while answering; now it sits beside the
    checklist and stays in the window (1366 px), and the keyboard can scroll it."""
    lib = app_services.content()
    scenario = app_services.scenario(SCENARIO)
    attempt = app_services.start_attempt(SCENARIO)
    page = new_page(browser, {"width": 1366, "height": 800})
    try:
        goto(page, f"{app_server.url}/practice?scenario={SCENARIO}&attempt={attempt}")
        settle_paint(page)  # every widget drawn: nothing above the item grows after the scroll
        vignette = by_key(page, "practice-vignette")
        # The last item: more than three screens down, at the end of the checklist (the box
        # once stopped with the column there, its top above the window).
        low = lib.preferences[-1]
        item = by_key(page, f"pref.{low.id}")
        assert item.bounding_box()["y"] > 800 * 3, "the item is not low on the page"
        label = next(o.label for o in low.options if not o.neutral)
        pick_radio(page, f"pref.{low.id}", label)
        expect(radio_inputs(page, f"pref.{low.id}").nth(1)).to_be_checked()
        expect(item).to_be_in_viewport()
        # Beside the item answered: the vignette's top is in the window, under the header.
        expect(vignette.get_by_text("History.")).to_be_in_viewport()
        box = vignette.bounding_box()
        assert box["y"] >= 60 and box["y"] + box["height"] <= 800, box
        assert box["x"] + box["width"] <= item.bounding_box()["x"], "not beside the checklist"
        screenshot(page, "practice-vignette-beside", full=False)
        # Taller than the window, it scrolls by itself, by keyboard too: from its title, the
        # arrow keys bring the patient's own words into view.
        words = vignette.get_by_text(scenario.vignette.own_words[:60])
        expect(words).not_to_be_in_viewport()
        vignette.locator("summary").focus()
        for _ in range(30):
            page.keyboard.press("ArrowDown")
        expect(words).to_be_in_viewport()
        expect(vignette.get_by_text("History.")).not_to_be_in_viewport()
        no_error_on_page(page)
    finally:
        page.context.close()
