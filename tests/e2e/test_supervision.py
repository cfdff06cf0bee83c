"""Supervision in a real browser: filter the caseload, open a case in review, leave a note.

The demo database holds DEMO-005, a case whose sessions show no reliable improvement after four
attended treatment sessions: "not on track". The note is typed and saved by clicking, and must
still be there after a reload (a reload loses Streamlit's session state, so it must be stored).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    AppServer,
    by_key,
    choose,
    click,
    exact,
    goto,
    next_frames,
    no_error_on_page,
    reload,
    screenshot,
    settles,
)
from tests.store import case_id_of

pytestmark = pytest.mark.e2e

NOTE = "Agreed to review the homework plan together; check the alliance at the next session"
ACTION = "Therapist to bring the session 6 measures to supervision"


def table_cells(page: Page, column: int) -> list[str]:
    """The text of one column of the first dataframe (its hidden grid holds the cell text)."""
    grid = page.locator("table[role='grid']").first
    return [t.strip() for t in grid.locator(f"tbody tr td:nth-child({column})").all_inner_texts()]


def test_not_on_track_case_opened_from_the_caseload_gets_a_note_that_survives_a_reload(
    page: Page, app_server: AppServer, app_services
):
    goto(page, f"{app_server.url}/caseload")
    no_error_on_page(page)
    frame = app_services.caseload_frame()
    expected = sorted(frame.loc[frame["not_on_track"].fillna(False).astype(bool), "reference"])
    assert "DEMO-005" in expected

    outcomes = by_key(page, "caseload.outcomes")
    field = outcomes.locator("input")
    field.scroll_into_view_if_needed()
    next_frames(page)
    field.click()
    with settles(page):
        page.get_by_role("option", name="Not on track", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_text(exact(f"{len(expected)} of {len(frame)} cases"))).to_be_visible()
    screenshot(page, "caseload-not-on-track")

    choose(page, "caseload.open_pick", "DEMO-005")
    click(page, by_key(page, "caseload.open").get_by_role("button"))
    expect(page.get_by_role("heading", name="Case review · DEMO-005")).to_be_visible()
    assert "case=" in page.url

    page.get_by_role("tab", name="Supervision notes", exact=True).click()
    by_key(page, "review.note.text").locator("textarea").fill(NOTE)
    by_key(page, "review.note.action").locator("input").fill(ACTION)
    click(page, by_key(page, "review.note.add").get_by_role("button"))
    no_error_on_page(page)
    expect(page.get_by_test_id("stAlertContentSuccess").get_by_text("Note added.")).to_be_visible()
    screenshot(page, "case-review-note")

    reload(page)
    expect(page.get_by_role("heading", name="Case review · DEMO-005")).to_be_visible()
    page.get_by_role("tab", name="Supervision notes", exact=True).click()
    case_id = case_id_of("DEMO-005")
    [note] = [n for n in app_services.notes(case_id) if n.text == NOTE]
    card = by_key(page, f"review.note.{note.id}")
    expect(card.get_by_test_id("stText").filter(has_text=exact(NOTE))).to_be_visible()
    expect(card.get_by_test_id("stText").filter(has_text=exact(ACTION))).to_be_visible()
    assert (note.action, note.status) == (ACTION, "open")
