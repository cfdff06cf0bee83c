"""Issue 17 in a real browser at a laptop's 1366 px: tables that wrap instead of cutting text,
the caseload's row click and lazy tabs, a confirmation after a flag decision, copy as text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    AppServer,
    by_key,
    click,
    exact,
    expander_summary,
    goto,
    new_page,
    no_error_on_page,
    screenshot,
    settles,
    to_patient_page,
)
from tests.store import case_id_of

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 768}
LONG_REASON = (
    "Discussed in supervision: the housing letter is agreed with the patient, the therapist "
    "will check next week whether the landlord has replied, and review the plan if not"
)

# Cells of the page's HTML tables whose text is wider than the cell shows (cut off).
CUT_CELLS = """
() => [...document.querySelectorAll("[data-testid='stTable'] td, [data-testid='stTable'] th")]
  .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
  .map((cell) => cell.innerText.slice(0, 60))
"""
# Tables (HTML) and dataframes (canvas) wider than the main column: a column off the edge.
WIDE_TABLES = """
() => {
  const main = document.querySelector("[data-testid='stMain']").getBoundingClientRect();
  return [...document.querySelectorAll("[data-testid='stTable'] table")]
    .filter((t) => t.getBoundingClientRect().right > main.right + 1)
    .map((t) => t.innerText.slice(0, 60));
}
"""


@pytest.fixture
def laptop(browser: Browser, app_server: AppServer) -> Page:
    page = new_page(browser, LAPTOP)
    yield page
    page.context.close()


def case_id(app_services, reference: str) -> int:
    return case_id_of(reference)


def assert_no_cut_text(page: Page) -> None:
    assert page.evaluate(CUT_CELLS) == []
    assert page.evaluate(WIDE_TABLES) == []


def test_the_report_tables_wrap_at_1366_px(laptop: Page, app_server: AppServer, app_services):
    demo = case_id(app_services, "DEMO-004")
    app_services.set_step(demo, "report")
    goto(laptop, f"{app_server.url}/walkthrough?case={demo}")
    alternatives = by_key(laptop, "report.alternatives")
    expect(alternatives.locator("th").last).to_have_text("Would break", timeout=20_000)
    expander_summary(laptop, "Figures and explanations for every dimension").click()
    expect(by_key(laptop, "report.dimensions").locator("th").last).to_have_text("Why")
    assert_no_cut_text(laptop)
    no_error_on_page(laptop)
    screenshot(laptop, "issue17-report-1366")


def test_a_flag_decision_is_confirmed_and_its_reason_wraps_in_the_review(
    laptop: Page, app_server: AppServer, app_services
):
    demo = case_id(app_services, "DEMO-003")
    goto(laptop, f"{app_server.url}/review?case={demo}")
    expect(laptop.get_by_role("heading", name="Case review · DEMO-003")).to_be_visible()
    by_key(laptop, "review.decide.reason").locator("input").fill(LONG_REASON)
    click(laptop, by_key(laptop, "review.decide.record").get_by_role("button"))
    expect(laptop.get_by_test_id("stToast")).to_contain_text("acknowledged")
    flags = by_key(laptop, "review.flags")
    expect(flags).to_contain_text(LONG_REASON)
    expect(flags.locator("th").filter(has_text=exact("Status"))).to_be_visible()
    assert_no_cut_text(laptop)
    no_error_on_page(laptop)
    screenshot(laptop, "issue17-review-1366")


def test_the_caseload_opens_on_its_table_and_a_row_click_opens_the_review(
    laptop: Page, app_server: AppServer, app_services
):
    goto(laptop, f"{app_server.url}/caseload")
    expect(laptop.get_by_test_id("stDataFrame")).to_be_visible()
    # The charts are drawn only when their tab is opened.
    expect(laptop.get_by_test_id("stPlotlyChart")).to_have_count(0)
    frame = app_services.caseload_frame()
    with settles(laptop):
        by_key(laptop, "caseload.high").locator("label").first.click()
    # Every column of the table shows at 1366 px: its grid does not scroll sideways.
    scroller = laptop.get_by_test_id("stDataFrame").locator(".dvn-scroller")
    widths = scroller.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1] + 1, widths
    high = int((frame["flags_high"] > 0).sum())
    expect(laptop.get_by_text(exact(f"{high} of {len(frame)} cases"))).to_be_visible()
    no_error_on_page(laptop)
    screenshot(laptop, "issue17-caseload-1366")

    # Row 1 of the grid (sorted most high flags first); the row marker column selects it.
    first = frame.sort_values("flags_high", ascending=False, kind="stable").iloc[0]
    grid = laptop.get_by_test_id("stDataFrame")
    box = grid.bounding_box()
    with settles(laptop):
        laptop.mouse.click(box["x"] + 20, box["y"] + 35 + 35 / 2)
    review = f"Case review · {first['reference']}"
    expect(laptop.get_by_role("heading", name=review)).to_be_visible()

    goto(laptop, f"{app_server.url}/caseload")
    click(laptop, laptop.get_by_role("tab", name="Charts", exact=True))
    expect(laptop.get_by_test_id("stPlotlyChart").first).to_be_visible()
    no_error_on_page(laptop)


def test_the_session_plan_copies_as_text(laptop: Page, app_server: AppServer, app_services):
    demo = case_id(app_services, "DEMO-002")
    app_services.set_step(demo, "report")
    goto(laptop, f"{app_server.url}/walkthrough?case={demo}")
    click(laptop, by_key(laptop, "report.text.plan").locator("summary"))
    code = by_key(laptop, "report.text.plan").get_by_test_id("stCode")
    expect(code).to_contain_text("Session plan, case DEMO-002")
    with laptop.expect_download() as download:
        by_key(laptop, "report.text.plan.download").get_by_role("button").click()
    assert download.value.suggested_filename.startswith("session-plan-DEMO-002-")
    no_error_on_page(laptop)
    screenshot(laptop, "issue17-plan-text")


def test_a_patients_text_box_on_a_phone_has_no_key_hint_and_does_not_zoom(
    browser: Browser, app_server: AppServer, app_services
):
    case = app_services.new_case("E2E-1717", "cbt_depression", 12)
    _, code = app_services.create_patient_link(case, {"preferences": None})
    phone = new_page(browser, {"width": 375, "height": 800})
    try:
        goto(phone, f"{app_server.url}/patient?code={code}")
        to_patient_page(phone, 7)
        box = by_key(phone, "patient.open.helped").locator("textarea")
        box.fill("Being listened to")
        size = box.evaluate("(el) => getComputedStyle(el).fontSize")
        assert size == "16px"
        expect(phone.get_by_text("Ctrl+Enter", exact=False)).not_to_be_visible()
        expect(phone.get_by_test_id("InputInstructions")).not_to_be_visible()
        no_error_on_page(phone)
        screenshot(phone, "issue17-patient-phone-text", full=False)
    finally:
        phone.context.close()
