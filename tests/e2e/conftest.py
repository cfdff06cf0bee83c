"""Browser tests: the real app in a subprocess, driven by headless Chromium through Playwright.

Facts these fixtures rely on (checked with Streamlit 1.67 and Playwright 1.65):

- The server is up when ``GET /_stcore/health`` answers ``ok``; a page has finished a script run
  when ``[data-testid='stApp']`` carries ``data-test-script-state='notRunning'``.
- After a click the rerun starts a moment later, so "notRunning" right after an action may still be
  the state *before* the run. An init script counts the runs that finish (any busy state →
  "notRunning") and the messages the page sends to the server; ``wait_ready(page, since=n)``
  waits for a run after the n-th to finish. A widget's change is sent in the event handler of
  the click itself, so an action that sent nothing within QUIET_MS caused no run.
- A widget with ``key="pref.structure"`` carries the CSS class ``st-key-pref-structure``: Streamlit
  replaces every character outside ``[a-zA-Z0-9_-]`` with ``-``. ``by_key`` does the same.
- ``st.dataframe`` draws on a canvas; the cell text is only in a hidden ``table[role=grid]``, and
  a dataframe does not get an ``st-key-`` class.
- Streamlit scrolls inside its own container, so ``full_page=True`` misses most of a long page:
  ``screenshot`` makes the viewport as tall as the content first.
- Use Debian's chromium (``/usr/bin/chromium``); never ``playwright install``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Locator, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM = Path(os.environ.get("TAILORING_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
VIEWPORT = {"width": 1280, "height": 900}
SERVER_START_SECONDS = 60
# An action that sent the server nothing within QUIET_MS caused no run (a widget sends its change
# from the click's own event handler; text boxes send on blur or Enter). One that sent something
# is given up to SENT_GRACE_MS for its run to show up: a message that asks for no run (there are
# few) costs that wait, and a slow server is waited for instead of being taken as idle.
QUIET_MS = 400
SENT_GRACE_MS = 15_000

# Counts finished script runs in window.__stRuns and messages sent to the server in
# window.__stSent (both reset with every new document).
COUNT_RUNS = """
(() => {
  if (window.__stRuns !== undefined) return;
  window.__stRuns = 0;
  window.__stSent = 0;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) {
    window.__stSent += 1;
    return send.apply(this, args);
  };
  const busy = new Set(["initial", "running", "rerunRequested", "stopRequested"]);
  const attr = "data-test-script-state";
  new MutationObserver((records) => {
    records.forEach((record, i) => {
      const next = records.slice(i + 1).find((later) => later.target === record.target);
      const value = next ? next.oldValue : record.target.getAttribute(attr);
      if (busy.has(record.oldValue) && value === "notRunning") window.__stRuns += 1;
    });
  }).observe(document, {
    subtree: true, attributes: true, attributeOldValue: true, attributeFilter: [attr],
  });
})();
"""

CONTENT_HEIGHT = """
() => Math.max(
  document.documentElement.scrollHeight,
  ...[...document.querySelectorAll(
    "[data-testid='stMain'], [data-testid='stAppViewContainer']"
  )].map((e) => e.scrollHeight),
)
"""


# Helpers -------------------------------------------------------------------------------------


def key_class(key: str) -> str:
    """The CSS class Streamlit gives the element of a widget key (``st-key-`` + sanitised key)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def by_key(scope: Page | Locator, key: str) -> Locator:
    """The element of the widget (or container) with this key."""
    return scope.locator(f".{key_class(key)}")


def finished_runs(page: Page) -> int:
    """How many script runs have finished since this document loaded."""
    return int(page.evaluate("window.__stRuns || 0"))


def sent_messages(page: Page) -> int:
    """How many messages this document has sent to the server."""
    return int(page.evaluate("window.__stSent || 0"))


def wait_ready(
    page: Page, since: int | None = None, timeout: float = 30_000, sent: int | None = None
) -> None:
    """Wait until Streamlit is idle; with ``since``, until a run after the ``since``-th finished.

    Pass ``since=finished_runs(page)`` and ``sent=sent_messages(page)`` taken *before* an action
    (or use ``settles``): the state attribute still says "notRunning" for a moment after a click,
    before the rerun starts. If the page sent nothing within QUIET_MS the action caused no run
    and the page is idle; if it sent something, its run is waited for (up to SENT_GRACE_MS).
    Without ``sent``, any run within SENT_GRACE_MS is waited for.
    """
    started = page.evaluate("Date.now()")
    page.wait_for_function(
        """([selector, since, sent, started, quiet, grace]) => {
            if (document.querySelector(selector) === null) return false;
            if (since === null || window.__stRuns > since) return true;
            const now = Date.now();
            const sentSince = sent === null || window.__stSent > sent;
            return sentSince ? now > started + grace : now > started + quiet;
        }""",
        arg=[READY, since, sent, started, QUIET_MS, SENT_GRACE_MS],
        timeout=timeout,
        polling="raf",
    )
    if os.environ.get("E2E_DEBUG") and since is not None and finished_runs(page) <= since:
        print(f"wait_ready: no run seen after {since}")


@contextmanager
def settles(page: Page) -> Iterator[None]:
    """Run the block (an interaction), then wait for the rerun it causes to finish."""
    before, sent = page.evaluate("[window.__stRuns || 0, window.__stSent || 0]")
    yield
    wait_ready(page, since=before, sent=sent)


def goto(page: Page, url: str) -> None:
    """Open a URL and wait for its first script run to finish."""
    page.goto(url)
    wait_ready(page, since=0)


def reload(page: Page) -> None:
    """Reload once the page is idle (while a run is in progress the app asks before leaving)."""
    wait_ready(page)
    page.reload()
    wait_ready(page, since=0)


def exact(text: str) -> re.Pattern[str]:
    """A pattern matching exactly this text (``has_text`` alone matches substrings)."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def click(page: Page, target: Locator) -> None:
    """Click and wait for the rerun."""
    with settles(page):
        target.click()


def pick_radio(page: Page, key: str, label: str) -> None:
    """Choose the option of an ``st.radio`` whose text is exactly ``label``."""
    option = by_key(page, key).get_by_test_id("stRadioOption").filter(has_text=exact(label))
    click(page, option)


def pick_segment(page: Page, key: str, label: str) -> None:
    """Choose an option of an ``st.segmented_control`` (role ``radio`` buttons)."""
    click(page, segment(page, key, label))


def segment(page: Page, key: str, label: str) -> Locator:
    return by_key(page, key).get_by_role("radio", name=label, exact=True)


def pick_pill(page: Page, key: str, label: str) -> None:
    """Toggle an option of an ``st.pills``."""
    click(page, by_key(page, key).locator("button").filter(has_text=exact(label)))


def choose(page: Page, key: str, label: str, *, rerun: bool = True) -> None:
    """Choose an option of an ``st.selectbox`` from its drop-down list.

    The selectbox is drawn by a lazily loaded component (a skeleton at first): click its input,
    which Playwright waits for, not the container. Inside a form a choice causes no rerun.
    The drop-down list closes when the page scrolls, and Playwright scrolls a widget into view
    just before its click, whose scroll event then closes the list it opened: scroll first and
    let the scroll events pass, then click.
    """
    box = by_key(page, key)
    field = box.locator("input")
    # On a loaded machine the first click can land while the list is still being drawn, and a
    # late scroll event can close it again: try a few times before failing.
    for attempt in range(4):
        field.scroll_into_view_if_needed()
        next_frames(page)
        field.click()
        try:
            expect(field).to_have_attribute("aria-expanded", "true", timeout=2_000)
            break
        except AssertionError:
            if attempt == 3:
                raise
            page.keyboard.press("Escape")
    option = page.get_by_role("option", name=label, exact=True)
    if rerun:
        click(page, option)
    else:
        option.click()
    expect(box.get_by_role("combobox")).to_have_value(label)


def radio_inputs(page: Page, key: str) -> Locator:
    """The ``<input type=radio>`` elements of an ``st.radio``, in option order."""
    return by_key(page, key).locator("input[type='radio']")


def to_patient_page(page: Page, number: int) -> None:
    """On the patient's questionnaire, Next until its progress bar says "Page <number> of …"."""
    progress = page.get_by_test_id("stProgress")
    while not re.match(rf"Page {number} of", progress.inner_text()):
        click(page, by_key(page, "patient.next").get_by_role("button"))


def step_button(page: Page, number: int, title: str) -> Locator:
    """The button of a walk-through step (``walk.step``), e.g. ``1. Preferences (4/14)``."""
    return by_key(page, "walk.step").get_by_role("radio", name=re.compile(rf"^{number}\. {title}"))


def expander_summary(page: Page, title: str) -> Locator:
    """The clickable title row of the ``st.expander`` whose title contains ``title``."""
    return page.get_by_test_id("stExpander").locator("summary").filter(has_text=title)


def no_error_on_page(page: Page) -> None:
    """Neither the app's friendly error nor a Streamlit exception box is showing."""
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def screenshot(page: Page, name: str, *, full: bool = True) -> Path:
    """Save a screenshot to test-artifacts/e2e/<name>.png, as tall as the content when ``full``.

    Streamlit scrolls inside its own container, so the viewport is stretched to the content's
    height for the shot and restored afterwards.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size or VIEWPORT
    page.mouse.move(size["width"] - 2, 2)  # no hover effects (chart toolbars, sidebar button)
    try:
        if full:
            for _ in range(2):  # stretch, let it re-flow, and stretch again if it grew
                height = min(max(int(page.evaluate(CONTENT_HEIGHT)), size["height"]), 12_000)
                page.set_viewport_size({"width": size["width"], "height": height})
                settle_paint(page)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def settle_paint(page: Page) -> None:
    """Let lazy widgets, charts and canvases draw: no skeletons, Plotly's SVG, two frames."""
    page.wait_for_function(
        """() => document.querySelector("[data-testid='stSkeleton']") === null
              && [...document.querySelectorAll("[data-testid='stPlotlyChart']")]
                   .every((chart) => chart.querySelector(".main-svg") !== null)"""
    )
    next_frames(page)
    page.wait_for_timeout(150)  # Glide's canvas and Plotly's relayout are throttled


def next_frames(page: Page) -> None:
    """Wait two animation frames (scroll and resize events of the last change have fired)."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def horizontal_overflow(page: Page) -> list[str]:
    """Elements that stick out past the right edge of the viewport (not inside a scroller)."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const problems = [];
          for (const el of [document.documentElement, document.body,
                            ...document.querySelectorAll("[data-testid='stMain']")]) {
            if (el.scrollWidth > el.clientWidth + 1) {
              problems.push(`${el.tagName}.${el.dataset.testid || ""} scrolls sideways: ` +
                            `${el.scrollWidth} > ${el.clientWidth}`);
            }
          }
          const clipped = (el) => {
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
              const style = getComputedStyle(p);
              if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) {
                const box = p.getBoundingClientRect();
                if (box.right <= width + 1) return true;
              }
            }
            return false;
          };
          for (const el of document.querySelectorAll("[data-testid='stMain'] *")) {
            const box = el.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) continue;
            if (box.right > width + 1 && !clipped(el)) {
              const id = el.dataset.testid || el.className || el.tagName;
              problems.push(`${id}: right edge ${Math.round(box.right)} > ${width}: ` +
                            (el.innerText || "").slice(0, 60));
            }
          }
          return problems;
        }"""
    )


# The app -------------------------------------------------------------------------------------


@dataclass
class AppServer:
    url: str
    database_url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    with (
        suppress(OSError),
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response,
    ):
        return response.read().decode().strip() == "ok"
    return False


@contextmanager
def running_app(
    workdir: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[AppServer]:
    """Upgrade the SQLite file of ``workdir`` (fresh the first time) and start ``streamlit run
    app.py`` on it, on a free port (or ``port``); stop it after.

    ``env`` adds to the environment (e.g. ``TAILORING_MODE=team``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    database_url = f"sqlite:///{workdir / 'e2e.db'}"
    env = {
        **os.environ,
        "TAILORING_DATABASE_URL": database_url,
        "TAILORING_DEMO": "1",
        "PYTHONUNBUFFERED": "1",
        # Each run, and each value a browser gives a bound widget, is logged: a test that
        # fails shows what the server did (see _keep_failed_page).
        "TAILORING_TRACE_WIDGETS": "1",
        **(env or {}),
    }
    log = workdir / "streamlit.log"
    # As scripts/run does: the app never migrates, so the schema is brought up to date first.
    upgrade = subprocess.run(
        [sys.executable, "-m", "tailoring", "db", "upgrade"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if upgrade.returncode != 0:
        raise RuntimeError(f"db upgrade failed ({upgrade.returncode}):\n{upgrade.stderr}")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        # Files may change while the tests run; the server keeps the code it started with.
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}", database_url, log, process)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _healthy(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited ({process.returncode}):\n{server.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit not healthy after 60 s:\n{server.log_text()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# What a page shows is waited for up to 15 s (Playwright's default is 5 s). Each test's new
# context loads Streamlit's lazily loaded components again (the step control, selectboxes,
# charts), and with both cores busy that took over 5 s: the walk-through's report showed
# below a step control not drawn yet (test_session_plan_pdf_downloads_from_the_browser failed
# so in 2 of 9 runs beside a soak; its screenshot at the end showed the control).
expect.set_options(timeout=15_000)


def new_page(browser: Browser, viewport: dict[str, int] | None = None) -> Page:
    context = browser.new_context(viewport=viewport or VIEWPORT, accept_downloads=True)
    context.add_init_script(COUNT_RUNS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[AppServer]:
    """The real app on a fresh SQLite database (the demo cases load on first start).

    It is opened once at ``/`` before any test: on a freshly started server Streamlit runs a
    deep link such as ``/walkthrough`` as an old-style ``pages/`` script until the entry point
    has run once (see test_deep_link_on_a_fresh_server_runs_the_entry_point).
    """
    with running_app(tmp_path_factory.mktemp("e2e-app")) as server:
        page = new_page(browser)
        try:
            goto(page, server.url)
        finally:
            page.context.close()
        yield server
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # One server per pytest-xdist worker ("gw0", "gw1", ...), each with its own log.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        name = f"streamlit-{worker}.log" if worker else "streamlit.log"
        (ARTIFACTS / name).write_text(server.log_text(), encoding="utf-8")


@pytest.fixture
def page(browser: Browser, app_server: AppServer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context at 1280×900. Fails the test on a page error or a server traceback.

    A test that fails leaves a screenshot of its page as it was then, and the widget keys drawn
    on it, in test-artifacts/e2e/failed-<test>.png and .txt.
    """
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_start = len(app_server.log_text())
    yield page
    call = getattr(request.node, "call_report", None)
    if call is not None and call.failed:
        _keep_failed_page(page, request.node.name, app_server.log_text()[log_start:])
    page.context.close()
    server_errors = app_server.log_text()[log_start:]
    assert "Traceback" not in server_errors, f"the server logged an error:\n{server_errors}"
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def app_services(app_server: AppServer, monkeypatch: pytest.MonkeyPatch):
    """``tailoring.services`` in this process, on the running app's database."""
    from tailoring import services

    monkeypatch.setenv("TAILORING_DATABASE_URL", app_server.database_url)
    return services


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep the call's report on the test, for the ``page`` fixture to see it failed."""
    report = yield
    if report.when == "call":
        item.call_report = report  # type: ignore[attr-defined]
    return report


def _keep_failed_page(page: Page, name: str, server_log: str) -> None:
    """Keep the failed page's screenshot and widget keys, and print what the browser sent and
    the server ran during the test (the end of its log), so that a failure in CI says it too."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:120]
    with suppress(Error):
        runs, sent = page.evaluate("[window.__stRuns || 0, window.__stSent || 0]")
        print(f"this page: {runs} runs finished, {sent} messages sent; the server's log:")
        print("\n".join(server_log.splitlines()[-80:]))
        screenshot(page, f"failed-{stem}", full=True)
        keys = page.evaluate(
            """() => [...document.querySelectorAll("[class*='st-key-']")]
              .map((e) => [...e.classList].find((c) => c.startsWith("st-key-"))).join("\\n")"""
        )
        state = page.evaluate(
            "document.querySelector(\"[data-testid='stApp']\")"
            "?.getAttribute('data-test-script-state')"
        )
        (ARTIFACTS / f"failed-{stem}.txt").write_text(
            f"{page.url}\nscript state: {state}\nwidget keys drawn:\n{keys}\n"
        )
