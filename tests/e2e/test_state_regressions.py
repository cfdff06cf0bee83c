"""The answers lost in a real browser before ui/bound.py, one test each, as they were seen.

1. Fast clicks on the walk-through's steps (with the machine busy) erased stored answers.
2. Sessions: away to Timeline and back showed an empty form, and an answer on it was not saved.
3. Practice: back to the Alliance step after Submit showed it empty; the next click saved blanks.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import ElementHandle, Page, WebSocketRoute, expect

from tests.e2e.conftest import (
    AppServer,
    by_key,
    click,
    goto,
    key_class,
    no_error_on_page,
    pick_radio,
    radio_inputs,
    screenshot,
    settles,
    step_button,
)
from tests.e2e.state_integrity import Checklist, new_demo_case, session_case, settle

pytestmark = pytest.mark.e2e

BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass\n"


@contextmanager
def busy_machine(processes: int = 2) -> Iterator[None]:
    """Keep every core busy, as on the clinic's shared server when answers were lost."""
    burners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(processes)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def test_fast_step_changes_on_a_busy_machine_change_no_answer(
    page: Page, app_server: AppServer, app_services
):
    lib = app_services.content()
    checklist = Checklist(lib)
    case_id = new_demo_case(app_services, "SR-0001")
    stored = checklist.stored(app_services.open_case(case_id).case.answers)
    goto(page, f"{app_server.url}/walkthrough?case={case_id}")
    steps = page.locator(f".{key_class('walk.step')} button[role=radio]")
    rng = random.Random(13)
    with busy_machine():
        for _ in range(40):
            steps.nth(rng.randrange(4)).click(no_wait_after=True)
            time.sleep(rng.uniform(0.04, 0.08))
        settle(page)
    assert checklist.stored(app_services.open_case(case_id).case.answers) == stored
    changed = [e for e in app_services.audit_entries(reference="SR-0001") if e.action == "changed"]
    assert not [e.detail for e in changed if e.detail.startswith("answer")]
    for step in range(3):
        click(page, steps.nth(step))
        settle(page)
        shown = checklist.read(page)
        assert shown, f"step {step + 1} shows no checklist widget"
        assert {s: v for s, v in stored.items() if s in shown} == shown
    no_error_on_page(page)


def _checked_session_radios(page: Page) -> int:
    return page.locator("[class*='st-key-session-'] input[type=radio]:checked").count()


def test_sessions_after_going_away_and_back_show_and_save_what_is_stored(
    page: Page, app_server: AppServer, app_services
):
    case_id = session_case(app_services, "SR-0002")
    session = app_services.open_case(case_id).case.sessions[-1]
    given = len(session.alliance) + sum(len(items) for items in session.measures.values())
    assert given > 10
    goto(page, f"{app_server.url}/sessions?case={case_id}")
    expect(by_key(page, "sessions.pick").get_by_role("combobox")).to_have_value(
        f"Session {session.number}"
    )
    expect(page.locator("[class*='st-key-session-'] input[type=radio]:checked")).to_have_count(
        given
    )

    sidebar = page.get_by_test_id("stSidebarNav")
    click(page, sidebar.get_by_role("link", name="Timeline"))
    click(page, sidebar.get_by_role("link", name="Sessions"))
    settle(page)
    assert _checked_session_radios(page) == given
    expect(
        by_key(page, "session.attendance").get_by_role("radio", name="Attended", exact=True)
    ).to_have_attribute("aria-checked", "true")

    # An answer given on the page after coming back is saved, and nothing else changes.
    lib = app_services.content()
    item = lib.alliance[0]
    before = session.alliance.get(item.id)
    value = 4 if before is None or before.value != 4 else 3
    page.get_by_role("tab", name="Alliance check", exact=True).click()
    pick_radio(page, f"session.alliance.{item.id}", item.labels[value])
    after = next(
        s for s in app_services.open_case(case_id).case.sessions if s.number == session.number
    )
    assert after.alliance[item.id].value == value
    assert after.measures == session.measures
    assert {k: v for k, v in after.alliance.items() if k != item.id} == {
        k: v for k, v in session.alliance.items() if k != item.id
    }
    no_error_on_page(page)


def test_practice_answers_stay_after_submit_and_a_later_click_adds_only_itself(
    page: Page, app_server: AppServer, app_services
):
    lib = app_services.content()
    scenario = app_services.scenarios()[0]
    goto(page, f"{app_server.url}/practice?scenario={scenario.id}")
    click(page, by_key(page, "practice.start").get_by_role("button"))
    attempt_id = app_services.attempts(scenario.id)[0].id
    click(page, step_button(page, 3, "Alliance check"))
    chosen = {item.id: 3 for item in lib.alliance[:3]}
    for item_id, value in chosen.items():
        pick_radio(page, f"alliance.{item_id}", lib.alliance_item(item_id).labels[value])
    click(page, step_button(page, 4, "Submit and feedback"))
    click(page, by_key(page, "practice.submit").get_by_role("button"))
    expect(page.get_by_text("Overall mark")).to_be_visible()

    click(page, step_button(page, 3, "Alliance check"))
    settle(page)
    for item_id, value in chosen.items():
        expect(radio_inputs(page, f"alliance.{item_id}").nth(value)).to_be_checked()
    fourth = lib.alliance[3]
    pick_radio(page, f"alliance.{fourth.id}", fourth.labels[1])
    answers = app_services.open_case(attempt_id).case.answers.alliance
    assert {k: a.value for k, a in answers.items()} == {**chosen, fourth.id: 1}
    no_error_on_page(page)


def test_practice_comes_back_to_the_attempt_after_another_page_and_in_a_new_session(
    page: Page, app_server: AppServer, app_services
):
    """Seen by the practice sequences: back from another page, the first scenario showed."""
    scenario = app_services.scenarios()[-1]
    attempt_id = app_services.start_attempt(scenario.id)
    goto(page, f"{app_server.url}/practice?scenario={scenario.id}&attempt={attempt_id}")
    expect(step_button(page, 1, "Preferences")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    click(page, nav.get_by_role("link", name="Content library"))
    click(page, nav.get_by_role("link", name="Practice"))
    expect(step_button(page, 1, "Preferences")).to_be_visible()
    assert f"attempt={attempt_id}" in page.url and f"scenario={scenario.id}" in page.url
    # A new session at the bare address: the latest attempt.
    goto(page, f"{app_server.url}/practice")
    expect(step_button(page, 1, "Preferences")).to_be_visible()
    assert f"attempt={attempt_id}" in page.url
    no_error_on_page(page)


def _another_bond(
    page: Page, app_server: AppServer, app_services, reference: str
) -> tuple[int, int, int, ElementHandle]:
    """A copy of demo case 5 open on Sessions at its last session; the "bond" option that
    differs from the stored answer, and its input: (case, session, option, input)."""
    case_id = session_case(app_services, reference)
    goto(page, f"{app_server.url}/sessions?case={case_id}")
    number = app_services.open_case(case_id).case.sessions[-1].number
    choice = next(v for v in range(5) if v != _bond(app_services, case_id, number))
    target = radio_inputs(page, "session.alliance.bond").nth(choice).element_handle()
    return case_id, number, choice, target


def _bond(app_services, case_id: int, number: int) -> int | None:
    sessions = app_services.open_case(case_id).case.sessions
    return next(s for s in sessions if s.number == number).alliance["bond"].value


def test_an_answer_and_a_sidebar_click_at_once_save_the_answer(
    page: Page, app_server: AppServer, app_services
):
    """The soak lost answers given just before a click in the sidebar (sessions seed 9111:
    three measure items). A widget sends its change a moment after the click, once React has
    drawn it; a sidebar click in that moment asked for the other page first, whose run dropped
    the answer's widget, and the answer then came with no callback to save it. Here both
    clicks come in one task: the page's navigation now waits for the answer to be sent."""
    case_id, number, choice, target = _another_bond(page, app_server, app_services, "SR-0007")
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Timeline", exact=True)
    with settles(page):
        page.evaluate(
            "([input, link]) => { input.click(); link.click(); }",
            [target, link.element_handle()],
        )
    expect(page.get_by_role("heading", name=re.compile("^Timeline"))).to_be_visible(timeout=30_000)
    settle(page)
    assert _bond(app_services, case_id, number) == choice
    no_error_on_page(page)


def _stay_when_asked(page: Page) -> list[str]:
    """Answer "stay on the page" to every leave question; the list of questions asked. The
    page's document is marked, so a test can tell that it stayed."""
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.evaluate("window.__sameDocument = true")
    return asked


def _answer_and_reload_in_one_task(page: Page, target: ElementHandle) -> None:
    """Click the answer ``target`` and reload in the same task, before the page can send it:
    the browser must ask, and the person stays on the page until it is idle."""
    asked = _stay_when_asked(page)
    page.evaluate("(input) => { input.click(); location.reload(); }", target)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.evaluate("window.__sameDocument === true"), "the page stayed"
    settle(page)


def test_a_reload_at_the_moment_of_a_click_asks_first_and_staying_saves_the_answer(
    page: Page, app_server: AppServer, app_services
):
    """The soak lost an answer given just before a reload on a busy browser (sessions seed
    9006): the click was drawn, but the message carrying it goes out a moment later, after
    React redraws, and the page went first (no run had started, so the old guard let it go).
    Here the click and the reload come in one task, so the page cannot send before the
    reload: the browser asks, the person stays, and the answer is saved."""
    case_id, number, choice, target = _another_bond(page, app_server, app_services, "SR-0006")
    _answer_and_reload_in_one_task(page, target)
    assert _bond(app_services, case_id, number) == choice
    no_error_on_page(page)


def test_a_reload_while_an_answer_is_being_saved_asks_first(
    page: Page, app_server: AppServer, app_services
):
    """The soak lost answers given just before a reload on a busy server (sessions seeds 5106,
    5111): the page went before the answer's run. While a run is in progress the browser now
    asks before leaving (ui/style.py's PAGE_GUARD); an idle page reloads without a question.
    The run is held "in progress" here by setting Streamlit's script state on its element, as
    a busy server would leave it."""
    case_id = session_case(app_services, "SR-0005")
    goto(page, f"{app_server.url}/sessions?case={case_id}")
    page.locator("h1").first.click()  # a person has used the page (a leave prompt needs it)
    asked = _stay_when_asked(page)
    app = "document.querySelector(\"[data-testid='stApp']\")"
    page.evaluate(f"{app}.setAttribute('data-test-script-state', 'running')")
    page.evaluate("location.reload()")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.evaluate("window.__sameDocument === true"), "the page stayed"

    page.evaluate(f"{app}.setAttribute('data-test-script-state', 'notRunning')")
    with page.expect_navigation():
        page.evaluate("location.reload()")
    assert asked == ["beforeunload"], "an idle page reloads without a question"
    goto(page, page.url)
    no_error_on_page(page)


class HeldMessages:
    """The page's messages to the server, passed on until ``hold`` is set, then kept until
    ``release``: a busy server that has not read them yet, as the page sees it. With
    ``from_server``, the server's messages it picks are held instead, on their way to the
    page (and the page's all go on)."""

    def __init__(self, page: Page, from_server: Callable[[bytes], bool] | None = None) -> None:
        self.hold = False
        self.held: list[str | bytes] = []
        self.from_server = from_server
        self.to: list[WebSocketRoute] = []  # where held messages go on release, newest last
        page.route_web_socket(re.compile(r"/_stcore/stream"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        picks = self.from_server
        self.to.append(server if picks is None else ws)

        def from_page(message: str | bytes) -> None:
            if self.hold and picks is None:
                self.held.append(message)
            else:
                server.send(message)

        ws.on_message(from_page)
        if picks is not None:

            def to_page(message: str | bytes) -> None:
                if self.hold and isinstance(message, bytes) and picks(message):
                    self.held.append(message)
                else:
                    ws.send(message)

            server.on_message(to_page)

    def wait_for(self, count: int, page: Page, seconds: float = 1) -> None:
        for _ in range(int(seconds * 50)):
            if len(self.held) >= count:
                return
            page.wait_for_timeout(20)
        raise AssertionError(f"{len(self.held)} messages held, {count} expected")

    def release(self) -> None:
        self.hold = False
        for message in self.held:
            self.to[-1].send(message)
        self.held.clear()


def _reload_asks_and_stays(page: Page) -> None:
    asked = _stay_when_asked(page)
    page.evaluate("location.reload()")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.evaluate("window.__sameDocument === true"), "the page stayed"


def test_a_reload_after_an_answer_is_sent_but_before_its_run_asks_first(
    page: Page, app_server: AppServer, app_services
):
    """The soak lost two answers given just before a reload on a busy machine (patient seed
    9394): each was sent, but the server had not started their run when the page reloaded,
    the page had not heard of a run so nothing asked, and the closed session never ran it.
    Here the answer's message is held on its way to the server (as a busy server leaves it)
    while the page reloads: the browser asks, the person stays, and once the message goes on
    the answer is saved."""
    _reload_while_the_answer_is_held(page, app_server, app_services, "SR-0008")


def test_a_reload_while_an_answer_waits_for_its_run_asks_even_if_the_page_looks_idle(
    page: Page, app_server: AppServer, app_services
):
    """Sessions soak seed 9536: a run was stopped for a newer answer, and the busy server took
    over a second to start the next one. The page's script state read "not running" in that
    gap, so the page guard took it as idle, and a reload closed the session before the two
    answers' run. The guard now waits for the server's word that a run *finished* after the
    answer. Here the answer's message is held, and the page's state goes "running" then "not
    running" meanwhile (as a run stopped for a rerun leaves it): a reload still asks."""
    _reload_while_the_answer_is_held(page, app_server, app_services, "SR-0010", looks_idle=True)


def _reload_while_the_answer_is_held(
    page: Page, app_server: AppServer, app_services, reference: str, looks_idle: bool = False
) -> None:
    """Answer, hold the answer's message on its way, reload: the browser asks and the person
    stays; once the message goes on, the answer is saved. With ``looks_idle`` the page's
    script state goes "running" then "not running" meanwhile."""
    messages = HeldMessages(page)
    case_id, number, choice, target = _another_bond(page, app_server, app_services, reference)
    messages.hold = True
    page.evaluate("(input) => input.click()", target)
    messages.wait_for(1, page)
    if looks_idle:
        app = "document.querySelector(\"[data-testid='stApp']\")"
        page.evaluate(f"{app}.setAttribute('data-test-script-state', 'running')")
        page.wait_for_timeout(50)
        page.evaluate(f"{app}.setAttribute('data-test-script-state', 'notRunning')")
        page.wait_for_timeout(50)
    _reload_asks_and_stays(page)
    messages.release()
    settle(page)
    assert _bond(app_services, case_id, number) == choice
    no_error_on_page(page)


def test_the_page_being_left_takes_no_answer_until_the_next_page_has_run(
    page: Page, app_server: AppServer, app_services
):
    """Practice soak seed 9542: a click in the sidebar went to another page, and an answer
    clicked on the old page a moment later reached the server after its widget had gone: no
    callback ran and nothing said so. Once a page link is followed, what is left of the page
    (faded by Streamlit) refuses clicks until the next page has run. Here the link's message is
    held (a busy server), the answer clicked meanwhile changes nothing and sends nothing, and
    the next page then shows as usual."""
    messages = HeldMessages(page)
    case_id, number, choice, _ = _another_bond(page, app_server, app_services, "SR-0011")
    stored = _bond(app_services, case_id, number)
    messages.hold = True
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Timeline", exact=True).click()
    messages.wait_for(1, page)
    assert page.evaluate("document.documentElement.classList.contains('tailoring-moving')")
    option = by_key(page, "session.alliance.bond").get_by_test_id("stRadioOption").nth(choice)
    option.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__tailoringRefused") == 1
    assert len(messages.held) == 1, "the refused answer sent nothing"
    checked = radio_inputs(page, "session.alliance.bond").nth(choice)
    assert not checked.is_checked(), "the refused click changed nothing on the page"
    screenshot(page, "sessions-leaving")
    messages.release()
    expect(page.get_by_role("heading", name=re.compile("^Timeline"))).to_be_visible()
    settle(page)
    assert not page.evaluate("document.documentElement.classList.contains('tailoring-moving')")
    assert _bond(app_services, case_id, number) == stored
    no_error_on_page(page)


def _walkthrough_answer(
    page: Page, app_server: AppServer, app_services, reference: str
) -> tuple[int, tuple[str, str, str], Any, ElementHandle]:
    """A copy of demo case 1 open on its walk-through's first step; the "structure" preference,
    an option other than the stored one, and that option's input."""
    checklist = Checklist(app_services.content())
    case_id = new_demo_case(app_services, reference)
    goto(page, f"{app_server.url}/walkthrough?case={case_id}")
    spec = ("preferences", "structure", "value")
    widget = checklist.widgets[spec]
    stored = checklist.stored(app_services.open_case(case_id).case.answers)[spec]
    choice = next(v for v in widget.options if v != stored)
    target = radio_inputs(page, widget.key).nth(widget.options.index(choice)).element_handle()
    return case_id, spec, choice, target


def _stored(app_services, case_id: int, spec: tuple[str, str, str]) -> Any:
    checklist = Checklist(app_services.content())
    return checklist.stored(app_services.open_case(case_id).case.answers)[spec]


def test_the_step_being_left_takes_no_answer_until_the_next_step_has_run(
    page: Page, app_server: AppServer, app_services
):
    """Soak patient seed 9569 (and the walk-through's steps alike): after a click to the next
    page of questions, two answers were clicked on the page still shown while the server drew
    the next one; their widgets were gone from that run, and no callback saved them. Here the
    step click's message is held (a busy server); an answer on the step being left is refused
    and sends nothing, while the step control still works; the next step then shows."""
    messages = HeldMessages(page)
    case_id, spec, _, target = _walkthrough_answer(page, app_server, app_services, "SR-0012")
    stored = _stored(app_services, case_id, spec)
    messages.hold = True
    step_button(page, 2, "Social context").click()
    messages.wait_for(1, page)
    assert page.evaluate("document.documentElement.classList.contains('tailoring-moving')")
    page.evaluate("(input) => input.closest('label').click()", target)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__tailoringRefused") == 1
    assert len(messages.held) == 1, "the refused answer sent nothing"
    assert not target.is_checked(), "the refused click changed nothing on the page"
    step_button(page, 3, "Alliance check").click()
    messages.wait_for(2, page)
    messages.release()
    expect(by_key(page, "alliance.bond")).to_be_visible()
    settle(page)
    assert not page.evaluate("document.documentElement.classList.contains('tailoring-moving')")
    assert _stored(app_services, case_id, spec) == stored
    no_error_on_page(page)


def _ends_a_run(message: bytes) -> bool:
    """A server message that says a run has ended: "script finished", or the session's status
    changed to not running."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg.FromString(message)
    kind = msg.WhichOneof("type")
    return kind == "script_finished" or (
        kind == "session_status_changed" and not msg.session_status_changed.script_is_running
    )


def test_the_next_step_takes_answers_while_its_run_is_still_finishing(
    page: Page, app_server: AppServer, app_services
):
    """What the next step's run has drawn already is the next step: an answer there is taken
    at once, not refused, even before that run has finished. Here the server's "script
    finished" message for the step's run is held back, with the status that says it stopped
    (the page stays "running"), and an answer on the new step is sent and saved."""
    messages = HeldMessages(page, from_server=_ends_a_run)
    case_id = new_demo_case(app_services, "SR-0015")
    goto(page, f"{app_server.url}/walkthrough?case={case_id}")
    messages.hold = True
    step_button(page, 2, "Social context").click()
    answer = by_key(page, "social.housing.present").get_by_role("radio", name="Yes", exact=True)
    expect(answer).to_be_visible()
    messages.wait_for(1, page, seconds=5)  # the step's run finished (its end held)
    sent = page.evaluate("window.__stSent")
    answer.click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__tailoringRefused") == 0
    assert page.evaluate("window.__stSent") > sent, "the answer was sent at once"
    messages.release()
    settle(page)
    assert _stored(app_services, case_id, ("social", "housing", "present")) == "yes"
    no_error_on_page(page)


def test_a_click_on_the_step_already_shown_refuses_nothing_after_it(
    page: Page, app_server: AppServer, app_services
):
    """A click on the step already shown sends nothing: it must not make the page refuse the
    next answer (soak practice 9702: answers refused for seconds after one)."""
    case_id, spec, choice, target = _walkthrough_answer(page, app_server, app_services, "SR-0014")
    step_button(page, 1, "Preferences").click()
    page.wait_for_timeout(300)
    with settles(page):
        page.evaluate("(input) => input.closest('label').click()", target)
    settle(page)
    assert page.evaluate("window.__tailoringRefused") == 0
    assert _stored(app_services, case_id, spec) == choice
    no_error_on_page(page)


def test_an_answer_and_a_step_click_at_once_save_the_answer(
    page: Page, app_server: AppServer, app_services
):
    """An answer, then at once a click on the next step: one run saves the answer and shows
    the step. The page guard holds a step click until a given answer is sent (so the step's
    message carries it); this pins that the hold neither drops nor delays either click. (It
    passes on the old guard too: in one task Chromium already sent the answer first.)"""
    case_id, spec, choice, target = _walkthrough_answer(page, app_server, app_services, "SR-0013")
    step = step_button(page, 2, "Social context").element_handle()
    with settles(page):
        page.evaluate("([input, step]) => { input.click(); step.click(); }", [target, step])
    expect(by_key(page, "social.housing.present")).to_be_visible()
    settle(page)
    assert _stored(app_services, case_id, spec) == choice
    no_error_on_page(page)


def test_the_patients_page_asks_before_a_reload_that_would_lose_an_answer(
    page: Page, app_server: AppServer, app_services
):
    """The patient's page had no page guard (soak patient seeds 9394 and 9549: answers given
    just before a reload, lost). An answer and a reload in one task: the browser asks, the
    patient stays, and the answer is saved."""
    case_id = app_services.new_case("SR-0009", "cbt_depression", 12)
    link, code = app_services.create_patient_link(case_id, {"preferences": None})
    goto(page, f"{app_server.url}/patient?code={code}")
    target = radio_inputs(page, "patient.preferences.structure").nth(1).element_handle()
    _answer_and_reload_in_one_task(page, target)
    assert app_services.patient_link_answers(link.id)["preferences.structure"]["value"] == 2
    no_error_on_page(page)
