"""Every page, at a desktop width (1366 px) and a phone width (375 px), scanned with axe-core.

Local mode shows every page (its one user is therapist, supervisor and trainee): each is opened by
its address, on a copy of a demo case with sessions, answers and flags, and the walk-through at
each of its steps, practice while answering and with its feedback, and the patient's
questionnaire opened by a link. Team mode adds the sign-in page (empty and after a refusal) and
the pages each role lands on once signed in, with the account box in the sidebar. A serious or
critical finding fails the test unless it is on the documented allow-list of Streamlit's own
markup (tests/e2e/accessibility.py, docs/accessibility.md); every allow-list entry must still be
needed, so one Streamlit fixes comes off the list.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tailoring.model.actor import Actor
from tests.e2e.accessibility import STREAMLIT_INTERNAL, Allowed, scan
from tests.e2e.conftest import (
    AppServer,
    by_key,
    click,
    goto,
    new_page,
    no_error_on_page,
    running_app,
    settle_paint,
)
from tests.e2e.test_team_sign_in import PASSWORD, cli

pytestmark = pytest.mark.e2e

WIDTHS = {"desktop": {"width": 1366, "height": 800}, "phone": {"width": 375, "height": 800}}
# The allow-list entries each width needs in local mode: the sidebar menu's, and on a phone the
# wide tables' (at 1366 px every table fits).
NEEDED = {
    "desktop": {"list", "listitem"},
    "phone": {"list", "listitem", "scrollable-region-focusable"},
}
SIGN_IN = "Sign in to Tailoring"


def scanned(page: Page, state: str, problems: list[str], used: set[Allowed]) -> None:
    """Scan the page as it stands once drawn; add its findings under ``state``."""
    no_error_on_page(page)
    settle_paint(page)
    result = scan(page)
    problems.extend(f"{state}: {p}" for p in result.problems)
    used.update(result.allowed)


def assert_clean(problems: list[str], used: set[Allowed], needed: set[str]) -> None:
    """No finding left; and each allow-list entry named in ``needed`` (by rule) was needed."""
    assert not problems, f"{len(problems)} axe findings:\n" + "\n".join(problems)
    unused = [
        f"{a.rule} in {a.within}"
        for a in STREAMLIT_INTERNAL
        if a.rule in needed - {u.rule for u in used}
    ]
    assert not unused, f"allow-list entries no page needed (fixed upstream?): {unused}"


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_in_local_mode(browser: Browser, app_server: AppServer, app_services, width):
    demo = next(c for c in app_services.list_cases() if c.reference == "DEMO-005")
    case_id = app_services.duplicate_case(demo.id, f"AX-{width[:2].upper()}-5")
    attempt = app_services.start_attempt("housing_damp_mould")
    submitted = app_services.start_attempt("housing_damp_mould")
    app_services.submit_attempt(submitted)
    _, code = app_services.create_patient_link(case_id, {"preferences": None})
    url = app_server.url
    problems: list[str] = []
    used: set[Allowed] = set()
    page = new_page(browser, WIDTHS[width])
    try:
        addresses = {
            "cases": url,
            "sessions": f"{url}/sessions?case={case_id}",
            "timeline": f"{url}/timeline?case={case_id}",
            "patient questionnaires": f"{url}/patient_questionnaires?case={case_id}",
            "caseload": f"{url}/caseload",
            "import caseload": f"{url}/import_caseload",
            "case review": f"{url}/review?case={case_id}",
            "practice, answering": f"{url}/practice?scenario=housing_damp_mould&attempt={attempt}",
            "practice, feedback": f"{url}/practice?scenario=housing_damp_mould&attempt={submitted}",
            "content library": f"{url}/library",
            "audit log": f"{url}/audit",
        }
        for state, address in addresses.items():
            goto(page, address)
            scanned(page, state, problems, used)
        for step in ("preferences", "social", "alliance", "report"):
            app_services.set_step(case_id, step)
            goto(page, f"{url}/walkthrough?case={case_id}")
            scanned(page, f"walk-through, {step}", problems, used)
        page.context.close()

        # The patient's questionnaire, opened by its link: no sidebar, so no allow-list at all.
        page = new_page(browser, WIDTHS[width])
        goto(page, f"{url}/patient?code={code}")
        expect(page.get_by_role("heading", name="What you want from therapy")).to_be_visible()
        scanned(page, "patient questionnaire", problems, used)
    finally:
        page.context.close()
    assert_clean(problems, used, NEEDED[width])


# Team mode -----------------------------------------------------------------------------------

PEOPLE = {
    "terry.ax": "therapist",
    "sue.ax": "supervisor",
    "tom.ax": "trainee",
    "ann.ax": "admin",
}


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with running_app(
        tmp_path_factory.mktemp("a11y-team"), {"TAILORING_MODE": "team", "TAILORING_DEMO": "0"}
    ) as server:
        for username, role in PEOPLE.items():
            cli(server, "users", "add", username, "--role", role, "--password-stdin")
        cli(server, "users", "assign-supervisor", "sue.ax", "terry.ax")
        yield server


@pytest.fixture(scope="module")
def team_case(team_server: AppServer) -> int:
    """A case of the therapist's, with a social problem that raises flags."""
    from tailoring import services

    previous = os.environ.get("TAILORING_DATABASE_URL")
    os.environ["TAILORING_DATABASE_URL"] = team_server.database_url
    try:
        with services.acting_as(Actor("terry.ax", "Terry", frozenset({"therapist"}))):
            case_id = services.new_case("AX-T-001", "ba_step2", 6)
            services.save_answer(
                case_id,
                "social",
                "housing",
                {"present": "yes", "maintains": "yes", "helping": "no"},
            )
            services.set_step(case_id, "report")
    finally:
        if previous is None:
            os.environ.pop("TAILORING_DATABASE_URL")
        else:
            os.environ["TAILORING_DATABASE_URL"] = previous
    return case_id


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
    by_key(page, "login.username").locator("input").fill(username)
    by_key(page, "login.password").locator("input").fill(password)
    click(page, by_key(page, "login.submit").get_by_role("button"))


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_and_the_pages_of_each_role_in_team_mode(
    browser: Browser, team_server: AppServer, team_case: int, width: str
):
    url = team_server.url
    problems: list[str] = []
    used: set[Allowed] = set()
    page = new_page(browser, WIDTHS[width])
    try:
        goto(page, url)
        expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
        scanned(page, "sign-in", problems, used)
        sign_in(page, "nobody.ax", "not the password")
        expect(page.get_by_text("Wrong username or password", exact=False)).to_be_visible()
        scanned(page, "sign-in refused", problems, used)
        page.context.close()

        pages = {
            "terry.ax": ["", f"walkthrough?case={team_case}", f"sessions?case={team_case}"],
            "sue.ax": ["caseload", f"review?case={team_case}", "audit"],
            "tom.ax": ["practice", "library"],
            "ann.ax": ["audit"],
        }
        for username, addresses in pages.items():
            page = new_page(browser, WIDTHS[width])
            goto(page, url)
            sign_in(page, username)
            expect(page.get_by_role("heading", name=SIGN_IN)).to_have_count(0)
            for address in addresses:
                goto(page, f"{url}/{address}")
                scanned(page, f"{PEOPLE[username]} at /{address}", problems, used)
            page.context.close()
    finally:
        page.context.close()
    assert_clean(problems, used, set())
