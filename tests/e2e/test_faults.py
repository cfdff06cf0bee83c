"""Faults in a real browser (issue 18): an outage keeps the person's answer and a retry saves
exactly it; clearing every option of a multi-choice answer works and can be undone; after a
killed server the page shows which answers were saved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    AppServer,
    by_key,
    click,
    free_port,
    goto,
    key_class,
    new_page,
    no_error_on_page,
    pick_radio,
    radio_inputs,
    running_app,
    step_button,
)
from tests.e2e.state_integrity import Checklist, new_demo_case, settle

pytestmark = pytest.mark.e2e


@contextmanager
def database_locked(server: AppServer) -> Iterator[None]:
    """Another writer holds the SQLite file: the app's writes wait, then fail (an outage)."""
    path = server.database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _preferences(app_services, case_id: int) -> dict:
    checklist = Checklist(app_services.content())
    stored = checklist.stored(app_services.open_case(case_id).case.answers)
    return {spec: value for spec, value in stored.items() if spec[0] == "preferences"}


def test_an_outage_keeps_the_answer_on_the_page_and_a_retry_saves_exactly_it(
    page: Page, app_server: AppServer, app_services
):
    """18.1: the retry after an outage used to save all 13 preferences as empty."""
    case_id = new_demo_case(app_services, "FAULT-001")
    before = _preferences(app_services, case_id)
    goto(page, f"{app_server.url}/walkthrough?case={case_id}")
    item = app_services.content().preferences[0]
    current = before[("preferences", item.id, "value")]
    value = next(v for v in [1, 2, 3, 4, 5] if v != current)
    with database_locked(app_server):
        pick_radio(page, f"pref.{item.id}", f"{value} · {item.labels[value - 1]}")
        expect(page.get_by_text("kept on this page but not yet saved")).to_be_visible(
            timeout=60_000
        )
        expect(page.get_by_text("not saved").first).to_be_visible()
        expect(radio_inputs(page, f"pref.{item.id}").nth(value - 1)).to_be_checked()
    assert _preferences(app_services, case_id) == before

    click(page, page.get_by_role("button", name="Try saving again"))
    settle(page)
    expect(page.get_by_text("kept on this page but not yet saved")).to_have_count(0)
    assert _preferences(app_services, case_id) == {
        **before,
        ("preferences", item.id, "value"): value,
    }
    no_error_on_page(page)


def test_clearing_every_option_of_a_multi_choice_answer_works_and_undoes(
    page: Page, app_server: AppServer, app_services
):
    """18.2: deselecting every format option stored {"value": null} and broke the step."""
    case_id = new_demo_case(app_services, "FAULT-002")
    before = app_services.open_case(case_id).case.answers.preferences["format"].value
    assert before, "demo case 1 answers the format question"
    goto(page, f"{app_server.url}/walkthrough?case={case_id}")
    pills = page.locator(f".{key_class('pref.format')} button[aria-pressed]")
    for _ in range(len(before)):
        click(page, page.locator(f".{key_class('pref.format')} button[aria-pressed=true]").first)
    expect(pills.and_(page.locator("[aria-pressed=true]"))).to_have_count(0)
    settle(page)
    assert app_services.open_case(case_id).case.answers.preferences["format"].value is None
    # The items after it are still drawn, and nothing went wrong.
    last = app_services.content().preferences[-1]
    expect(by_key(page, f"pref.{last.id}.importance")).to_be_visible()
    no_error_on_page(page)

    click(page, page.get_by_role("button", name="Undo the last change"))
    settle(page)
    # The last change (the last option taken away) comes back.
    expect(pills.and_(page.locator("[aria-pressed=true]"))).to_have_count(1)
    restored = app_services.open_case(case_id).case.answers.preferences["format"].value
    assert restored is not None and len(restored) == 1 and set(restored) <= set(before)


def test_after_a_killed_server_the_page_shows_which_answers_were_saved(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """18.3: five quick answers, ``kill -9`` the server: some were lost with no sign. After the
    restart every widget shows what is stored and each stored answer is marked saved, so the
    person sees what to give again."""
    from tailoring import services

    port = free_port()
    with running_app(tmp_path, port=port) as first:
        monkeypatch.setenv("TAILORING_DATABASE_URL", first.database_url)
        case_id = services.new_case("KILL-001", "ba_step2", 6)
        page = new_page(browser)
        goto(page, f"{first.url}/walkthrough?case={case_id}")
        click(page, step_button(page, 3, "Alliance check"))
        items = services.content().alliance[:5]
        for item in items:
            option = by_key(page, f"alliance.{item.id}").get_by_test_id("stRadioOption").nth(1)
            option.click(no_wait_after=True)
        first.process.kill()
        first.process.wait()
    with running_app(tmp_path, port=port) as second:
        # The killed server left the page in a run: the app asks before reloading; leave.
        page.once("dialog", lambda dialog: dialog.accept())
        page.reload()
        settle(page)
        click(page, step_button(page, 3, "Alliance check"))
        settle(page)
        checklist = Checklist(services.content())
        stored = checklist.stored(services.open_case(case_id).case.answers)
        shown = checklist.read(page)
        alliance = [("alliance", item.id, "value") for item in items]
        assert {s: shown[s] for s in alliance} == {s: stored[s] for s in alliance}
        for item in items:
            title = page.get_by_test_id("stMarkdownContainer").filter(has_text=item.title).first
            mark = (
                expect(title).to_contain_text
                if stored[("alliance", item.id, "value")]
                else (expect(title).not_to_contain_text)
            )
            mark("saved")
        no_error_on_page(page)
        assert second.process.poll() is None
    page.context.close()
