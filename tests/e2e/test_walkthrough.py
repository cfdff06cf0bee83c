"""The app in a real browser: a case from creation to fit report, reload, downloads, phone width."""

from __future__ import annotations

import io
import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.e2e.conftest import (
    ARTIFACTS,
    AppServer,
    by_key,
    choose,
    click,
    expander_summary,
    goto,
    horizontal_overflow,
    new_page,
    no_error_on_page,
    pick_pill,
    pick_radio,
    pick_segment,
    radio_inputs,
    reload,
    running_app,
    screenshot,
    segment,
    settles,
    step_button,
)
from tests.store import app_store, case_id_of

pytestmark = pytest.mark.e2e

PROTOCOL = "gsh_cbt"
PROTOCOL_NAME = "Guided self-help (CBT-based)"
CREATE = "Create and start the walk-through"
# The flags the answers below must raise (titles as the engine writes them).
STRUCTURE_FLAG = "Structure: the protocol cannot stretch to the patient's preference"
HOUSING_FLAG = "Housing: keeps the difficulties going, not yet addressed"
RUPTURE_FLAG = "Withdrawal signs: some signs"
GENDER_FLAG = "Therapist's gender: A woman"


def open_new_case_form(page: Page) -> None:
    expander = page.get_by_test_id("stExpander").filter(has_text="New case")
    if not by_key(page, "case.new.reference").locator("input").is_visible():
        expander.locator("summary").click()
    expect(by_key(page, "case.new.reference").locator("input")).to_be_visible()


def test_a_case_from_creation_to_fit_report_survives_a_reload(
    page: Page, app_server: AppServer, app_services
):
    goto(page, app_server.url)
    open_new_case_form(page)
    by_key(page, "case.new.reference").locator("input").fill("E2E-0001")
    choose(page, "case.new.protocol", f"{PROTOCOL_NAME} (step 2)", rerun=False)
    by_key(page, "case.new.sessions").locator("input").fill("8")
    click(page, page.get_by_role("button", name=CREATE))

    expect(page.get_by_role("heading", name="Walk-through · E2E-0001")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/walkthrough\?case=\d+$"))
    case_id = int(page.url.rsplit("case=", 1)[1])
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Open case: E2E-0001")
    expect(step_button(page, 1, "Preferences")).to_have_attribute("aria-checked", "true")

    # 1. Preferences: one clash with the protocol (guided self-help is highly structured), one
    # that fits, a format, and a therapist preference for allocation.
    pick_radio(page, "pref.structure", "5 · Open and flexible: follow what I bring")
    pick_segment(page, "pref.structure.importance", "Essential")
    pick_radio(page, "pref.practice", "4 · Regular practice most weeks")
    pick_segment(page, "pref.practice.importance", "Matters a lot")
    pick_pill(page, "pref.format", "In person")
    pick_radio(page, "pref.therapist_gender", "A woman")
    pick_segment(page, "pref.therapist_gender.importance", "Matters a little")
    expect(step_button(page, 1, "Preferences")).to_have_text(re.compile(r"\(4/14\)"))
    no_error_on_page(page)
    screenshot(page, "walkthrough-1-preferences")

    # 2. Social context: housing keeps the difficulties going and nobody is helping.
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 2, "Social context")).to_have_attribute("aria-checked", "true")
    pick_segment(page, "social.housing.present", "Yes")
    pick_segment(page, "social.housing.maintains", "Yes")
    pick_segment(page, "social.housing.helping", "No")
    pick_pill(page, "social.housing.details", "Damp or mould in the home")
    pick_segment(page, "social.money.present", "No")
    expect(step_button(page, 2, "Social context")).to_have_text(re.compile(r"\(2/13\)"))
    no_error_on_page(page)
    screenshot(page, "walkthrough-2-social")

    # 3. Alliance check: a fair bond, but signs of withdrawal (a rupture).
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 3, "Alliance check")).to_have_attribute("aria-checked", "true")
    pick_radio(page, "alliance.goals_agreement", "Somewhat")
    pick_radio(page, "alliance.bond", "Mostly")
    pick_radio(page, "alliance.rupture_withdrawal", "Some signs")
    expect(step_button(page, 3, "Alliance check")).to_have_text(re.compile(r"\(3/9\)"))
    no_error_on_page(page)
    screenshot(page, "walkthrough-3-alliance")

    # 4. Fit report, checked against the same assessment made from the database.
    click(page, by_key(page, "walk.next").get_by_role("button"))
    expect(step_button(page, 4, "Fit report")).to_have_attribute("aria-checked", "true")
    stored = app_services.open_case(case_id)
    fit = app_services.assess_case(stored.case)
    assert fit.overall_fit is not None
    overall = page.get_by_test_id("stMetric").filter(has_text="Overall fit")
    expect(overall.get_by_test_id("stMetricValue")).to_have_text(f"{fit.overall_fit:.0f} / 100")

    titles = {f.title for f in fit.flags}
    for title in (STRUCTURE_FLAG, HOUSING_FLAG, RUPTURE_FLAG, GENDER_FLAG):
        assert title in titles
        flag = expander_summary(page, title)
        expect(flag).to_have_count(1)
        expect(flag).to_be_visible()

    expect(page.get_by_role("heading", name="Alternative protocols")).to_be_visible()
    # A table whose long cells wrap (st.table): every alternative shows, nothing scrolls inside.
    table = by_key(page, "report.alternatives").locator("table")
    expect(table.locator("tbody tr")).to_have_count(len(fit.alternatives))
    expect(table.locator("th").first).to_have_text("Protocol")
    first_protocol = table.locator("tbody tr").first.locator("td").first
    expect(first_protocol).to_have_text(fit.alternatives[0].protocol_name)
    expect(by_key(page, "report.chart").locator(".main-svg").first).to_be_attached()
    expect(by_key(page, "report.pdf")).to_be_visible()
    no_error_on_page(page)
    screenshot(page, "walkthrough-4-report")

    # A browser reload loses the session: the case and its step come back from the address bar
    # and the database.
    reload(page)
    expect(page).to_have_url(re.compile(rf"/walkthrough\?case={case_id}$"))
    expect(page.get_by_role("heading", name="Walk-through · E2E-0001")).to_be_visible()
    expect(step_button(page, 4, "Fit report")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Open case: E2E-0001")
    expect(overall.get_by_test_id("stMetricValue")).to_have_text(f"{fit.overall_fit:.0f} / 100")

    click(page, step_button(page, 1, "Preferences"))
    expect(radio_inputs(page, "pref.structure").nth(4)).to_be_checked()
    expect(radio_inputs(page, "pref.practice").nth(3)).to_be_checked()
    expect(segment(page, "pref.structure.importance", "Essential")).to_have_attribute(
        "aria-checked", "true"
    )
    click(page, step_button(page, 2, "Social context"))
    expect(segment(page, "social.housing.helping", "No")).to_have_attribute("aria-checked", "true")
    click(page, step_button(page, 3, "Alliance check"))
    expect(radio_inputs(page, "alliance.rupture_withdrawal").nth(1)).to_be_checked()
    screenshot(page, "walkthrough-5-after-reload")

    # The answers are in the database, read by another process (this one), not only in the page.
    case = app_store().cases.get(case_id_of("E2E-0001")).case
    assert (case.protocol_id, case.sessions_available) == (PROTOCOL, 8)
    assert case.step == "alliance"
    structure = case.answers.preferences["structure"]
    assert (structure.value, structure.importance) == (5, 3)
    assert case.answers.preferences["format"].value == ["in_person"]
    assert case.answers.preferences["therapist_gender"].value == "woman"
    housing = case.answers.social["housing"]
    assert (housing.present, housing.maintains, housing.helping) == ("yes", "yes", "no")
    assert housing.details == ["damp_mould"]
    assert case.answers.social["money"].present == "no"
    assert case.answers.alliance["rupture_withdrawal"].value == 1
    assert case.answers.alliance["bond"].value == 3


def test_session_plan_pdf_downloads_from_the_browser(
    page: Page, app_server: AppServer, app_services
):
    case_id = app_services.new_case("E2E-0002", "cbt_depression", 16)
    app_services.save_answer(case_id, "preferences", "focus", {"value": 5, "importance": 3})
    app_services.save_answer(case_id, "social", "money", {"present": "yes", "maintains": "yes"})
    app_services.set_step(case_id, "report")

    goto(page, app_server.url)
    choose(page, "cases.selected", "E2E-0002")
    click(page, by_key(page, "cases.open").get_by_role("button"))
    expect(page.get_by_role("heading", name="Walk-through · E2E-0002")).to_be_visible()
    expect(step_button(page, 4, "Fit report")).to_have_attribute("aria-checked", "true")

    with settles(page), page.expect_download() as download_info:
        by_key(page, "report.pdf").get_by_role("button").click()
    download = download_info.value
    assert download.suggested_filename == "session-plan-E2E-0002.pdf"
    pdf = download.path().read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "session-plan-E2E-0002.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "E2E-0002" in text

    with settles(page), page.expect_download() as download_info:
        by_key(page, "report.json").get_by_role("button").click()
    report = json.loads(download_info.value.path().read_text(encoding="utf-8"))
    assert report["case_reference"] == "E2E-0002"
    assert report["protocol_id"] == "cbt_depression"


def test_cases_page_fits_a_phone_and_the_content_library_opens(page: Page, app_server: AppServer):
    page.set_viewport_size({"width": 375, "height": 800})
    goto(page, app_server.url)
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    expect(by_key(page, "cases.open")).to_be_visible()
    no_error_on_page(page)
    assert horizontal_overflow(page) == []
    screenshot(page, "cases-phone")
    open_new_case_form(page)
    assert horizontal_overflow(page) == []
    screenshot(page, "cases-phone-new-case")

    goto(page, f"{app_server.url}/library")
    expect(page.get_by_role("heading", name="Content library")).to_be_visible()
    for tab in ("Themes", "Checklist items", "Protocols", "Adaptations"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    no_error_on_page(page)
    assert horizontal_overflow(page) == []
    screenshot(page, "library-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("tab", name="Protocols").click()
    expect(by_key(page, "library.profile").locator(".main-svg").first).to_be_attached()
    no_error_on_page(page)
    screenshot(page, "library-protocols")


def test_a_name_as_reference_is_refused_and_creates_nothing(
    page: Page, app_server: AppServer, app_services
):
    before = {c.reference for c in app_services.list_cases(include_archived=True)}
    goto(page, app_server.url)
    open_new_case_form(page)
    by_key(page, "case.new.reference").locator("input").fill("JaneSmith")
    click(page, page.get_by_role("button", name=CREATE))

    expect(page.get_by_text("Include at least one digit (e.g. TT-0423)")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"case="))
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    after = {c.reference for c in app_services.list_cases(include_archived=True)}
    assert after == before
    assert "JaneSmith" not in after
    screenshot(page, "cases-bad-reference")


def test_deep_link_on_a_fresh_server_runs_the_entry_point(
    browser: Browser, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    with running_app(tmp_path / "fresh") as server:
        from tailoring import services

        monkeypatch.setenv("TAILORING_DATABASE_URL", server.database_url)
        case_id = services.new_case("E2E-0003", "cbt_depression", 16)
        page = new_page(browser)
        try:
            goto(page, f"{server.url}/walkthrough?case={case_id}")
            expect(page.get_by_role("heading", name="Walk-through · E2E-0003")).to_be_visible()
            screenshot(page, "deep-link-fresh-server")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar).to_contain_text("Open case: E2E-0003", timeout=5_000)
            expect(sidebar.get_by_role("link", name="Content library")).to_be_visible()
        finally:
            page.context.close()
