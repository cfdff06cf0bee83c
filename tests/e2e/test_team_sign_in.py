"""Team mode in a real browser: a sign-in survives a reload, a typed address and a new tab, and
ends at sign-out and when the account is disabled (``python -m tailoring users disable``).

The app runs in team mode on its own database; the account is made through tailoring.services
on that database, as an administrator would with the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    REPO,
    AppServer,
    by_key,
    click,
    goto,
    new_page,
    no_error_on_page,
    reload,
    running_app,
    screenshot,
    wait_ready,
)

pytestmark = pytest.mark.e2e

USER = "dr.e2e"
PASSWORD = "plum-harbour-lantern-42"
SIGN_IN = "Sign in to Tailoring"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(
        tmp_path_factory.mktemp("team-app"), {"TAILORING_MODE": "team", "TAILORING_DEMO": "0"}
    ) as server:
        yield server


def cli(server: AppServer, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tailoring", *args],
        cwd=REPO,
        env={**os.environ, "TAILORING_DATABASE_URL": server.database_url},
        check=True,
        capture_output=True,
        input=f"{PASSWORD}\n{PASSWORD}\n",
        text=True,
    )


def sign_in(page: Page) -> None:
    expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
    by_key(page, "login.username").locator("input").fill(USER)
    by_key(page, "login.password").locator("input").fill(PASSWORD)
    click(page, by_key(page, "login.submit").get_by_role("button"))


def sign_in_cookie(page: Page) -> dict:
    """The sign-in cookie, once the page's script has set it (it runs as the page draws)."""
    for _ in range(50):
        found = [c for c in page.context.cookies() if c["name"] == "tailoring_sign_in"]
        if found:
            return dict(found[0])
        page.wait_for_timeout(100)
    raise AssertionError("no sign-in cookie after 5 s")


def signed_in_on(page: Page, heading: str) -> None:
    # While a run is drawing, the last run's elements stay on screen (the caseload's tabs rerun
    # once when first drawn): read the page once it is idle.
    wait_ready(page)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {USER}")
    expect(page.get_by_role("heading", name=SIGN_IN)).to_have_count(0)


def test_sign_in_survives_reload_typed_address_and_tab_and_ends_on_sign_out_and_disable(
    browser: Browser, team_server: AppServer
):
    cli(team_server, "users", "add", USER, "--role", "therapist", "--password-stdin")
    page = new_page(browser)
    try:
        # A typed address before signing in: the form there, then the page asked for.
        goto(page, f"{team_server.url}/library")
        sign_in(page)
        signed_in_on(page, "Content library")
        assert page.url.rstrip("/").endswith("/library")
        cookie = sign_in_cookie(page)
        assert cookie["sameSite"] == "Strict"
        assert cookie["httpOnly"] is False  # set by a script: see docs/team-mode.md

        reload(page)
        signed_in_on(page, "Content library")
        goto(page, f"{team_server.url}/caseload")
        signed_in_on(page, "Caseload")
        second = page.context.new_page()
        goto(second, f"{team_server.url}/library")
        signed_in_on(second, "Content library")
        no_error_on_page(second)
        screenshot(page, "team-signed-in-after-reload", full=False)

        # Sign-out in one tab ends the sign-in in the other at its next click, and on reload.
        page.bring_to_front()
        click(page, by_key(page, "account.sign_out").get_by_role("button"))
        expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        second.bring_to_front()
        nav = second.get_by_test_id("stSidebarNav")
        click(second, nav.get_by_role("link", name="Caseload", exact=True))
        expect(second.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        reload(second)
        expect(second.get_by_role("heading", name=SIGN_IN)).to_be_visible()

        # A disabled account is signed out at its next click, and cannot come back.
        page.bring_to_front()
        sign_in(page)
        signed_in_on(page, "Caseload")
        cli(team_server, "users", "disable", USER)
        click(page, page.get_by_test_id("stSidebarNav").get_by_role("link", name="Content library"))
        expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        expect(page.get_by_role("heading", name="Content library")).to_have_count(0)
        reload(page)
        expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        no_error_on_page(page)
    finally:
        page.context.close()


IDLE_SECONDS = 20


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Team mode with a 20-second idle time-out, checked every second by the open page."""
    with running_app(
        tmp_path_factory.mktemp("idle-app"),
        {
            "TAILORING_MODE": "team",
            "TAILORING_DEMO": "0",
            "TAILORING_IDLE_MINUTES": str(IDLE_SECONDS / 60),
            "TAILORING_IDLE_WATCH_SECONDS": "1",
        },
    ) as server:
        yield server


def test_the_idle_time_out_hides_the_case_without_a_click_unless_another_tab_is_in_use(
    browser: Browser, idle_server: AppServer
):
    """Issue 18.5: the time-out used to wait for the next click, which it then saved."""
    cli(idle_server, "users", "add", USER, "--role", "therapist", "--password-stdin")
    page = new_page(browser)
    try:
        goto(page, idle_server.url)
        sign_in(page)
        signed_in_on(page, "Cases")
        by_key(page, "case.new.reference").locator("input").fill("ID-001")
        click(page, page.get_by_role("button", name="Create and start the walk-through"))
        expect(page.get_by_test_id("stSidebar")).to_contain_text("Open case: ID-001")

        # Busy in a second tab: the first, left alone past the time-out, stays signed in.
        second = page.context.new_page()
        goto(second, f"{idle_server.url}/library")
        signed_in_on(second, "Content library")
        nav = second.get_by_test_id("stSidebarNav")
        for name in ["Cases", "Content library"] * 6:  # 24 s and more: past the time-out
            second.wait_for_timeout(2_000)
            click(second, nav.get_by_role("link", name=name, exact=True))
        expect(page.get_by_test_id("stSidebar")).to_contain_text("Open case: ID-001")
        expect(page.get_by_role("heading", name=SIGN_IN)).to_have_count(0)

        # Nobody clicks anywhere: both tabs hide the case and show the sign-in form, unclicked.
        page.wait_for_timeout((IDLE_SECONDS + 3) * 1_000)
        for tab in (page, second):
            expect(tab.get_by_role("heading", name=SIGN_IN)).to_be_visible(timeout=10_000)
            expect(tab.get_by_text("ID-001")).to_have_count(0)
        expect(page.get_by_text("You were signed out after")).to_be_visible()
        screenshot(page, "team-idle-signed-out", full=False)
        reload(page)
        expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        no_error_on_page(page)
    finally:
        page.context.close()
