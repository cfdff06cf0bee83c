"""Browser latency: the app's clicks and caseload opening against a bare-Streamlit floor, side by
side in one run.

Usage: .venv/bin/python bench/latency.py [--rounds 15] [--opens 5] [--cases 10000] [--keep DIR]

Issue 17's goals: each click on the walk-through (an answer, a step change) within 1.5× the
same click on bench/floor_app.py (the same widgets drawn by Streamlit alone), and the caseload
open in under 1 s with the demo's handful of cases and under 2 s with 10,000, in Chromium.

Three servers run at once: the floor, the app on the demo database, and the app on a database of
``--cases`` cases (filled once by bench/caseload.py's filler; ``--keep`` keeps it). The clicks
alternate between the floor and the app, so a busy moment of the machine falls on both. A click
is timed inside the page, from the pointer going down to the end of the script run it causes
(Streamlit's ``data-test-script-state`` back to ``notRunning``). Opening the caseload is timed
from the address being asked for to the first rows of its table being drawn (a new browser
context each time, as a new tab); the first open on each server reads the caseload from the
database, the rest find it kept.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    _healthy,
    by_key,
    finished_runs,
    free_port,
    goto,
    new_page,
    running_app,
    step_button,
    wait_ready,
)

CLICK_RATIO_GOAL = 1.5
OPEN_GOALS_S = {"demo": 1.0, "large": 2.0}
# The demo case the walk-through is timed on (demo-02, as bench/pages.py uses).
CASE_ID = 2
ANSWERS = ("2 · ", "4 · ")  # pref.structure's options, alternated so every click changes it

# Times, inside the page, the last pointer press and the last end of a script run.
CLICK_CLOCK = """
(() => {
  window.__pressedAt = 0;
  window.__idleAt = 0;
  document.addEventListener("pointerdown", () => { window.__pressedAt = performance.now(); },
                            true);
  const attr = "data-test-script-state";
  new MutationObserver(() => {
    const app = document.querySelector("[data-testid='stApp']");
    if (app && app.getAttribute(attr) === "notRunning") window.__idleAt = performance.now();
  }).observe(document, { subtree: true, attributes: true, attributeFilter: [attr] });
})();
"""
TABLE_DRAWN = "document.querySelector(\"[data-testid='stDataFrame'] canvas\") !== null"


@contextmanager
def floor_server() -> Iterator[str]:
    """``streamlit run bench/floor_app.py`` on a free port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "bench" / "floor_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError("the floor page's server exited")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def large_database(folder: Path, cases: int) -> str:
    """A SQLite database of ``cases`` cases with their figures (bench/caseload.py fills it)."""
    path = folder / f"caseload-{cases}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        filler = [sys.executable, str(REPO / "bench" / "caseload.py"), "--fill", url]
        subprocess.run([*filler, str(cases), str(cases * 10), "1000", "20261127"], check=True)
    return url


def timed_click(page: Page, target: Callable[[Page], object]) -> float:
    """Milliseconds from pressing ``target`` to the end of the run it causes."""
    before = finished_runs(page)
    target(page).click()  # type: ignore[attr-defined]
    wait_ready(page, since=before)
    return float(page.evaluate("window.__idleAt - window.__pressedAt"))


def answer(label: str) -> Callable[[Page], object]:
    return lambda page: (
        by_key(page, "pref.structure").get_by_test_id("stRadioOption").filter(has_text=label)
    )


def step(number: int, title: str) -> Callable[[Page], object]:
    return lambda page: step_button(page, number, title)


def walkthrough_clicks(floor: Page, app: Page, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Answer and step-change times on both pages, alternating page by page."""
    times: dict[str, dict[str, list[float]]] = {
        kind: {"floor": [], "app": []} for kind in ("answer", "step")
    }
    pages = {"floor": floor, "app": app}
    for n in range(rounds):
        for name, page in pages.items():
            times["answer"][name].append(timed_click(page, answer(ANSWERS[n % 2])))
        for number, title in ((2, "Social context"), (1, "Preferences")):
            for name, page in pages.items():
                times["step"][name].append(timed_click(page, step(number, title)))
    return times


def open_seconds(browser: Browser, url: str) -> float:
    """Seconds from asking for ``url`` in a new tab to the first rows of its table drawn."""
    page = new_page(browser)
    try:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(TABLE_DRAWN, polling="raf", timeout=60_000)
        return time.perf_counter() - start
    finally:
        page.context.close()


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values):.0f} ms, p90 {p90:.0f} ms (n={len(values)})"


def report_clicks(times: dict[str, dict[str, list[float]]]) -> None:
    for kind, by_page in times.items():
        floor, app = (statistics.median(by_page[name]) for name in ("floor", "app"))
        ratio = app / floor
        verdict = "PASS" if ratio <= CLICK_RATIO_GOAL else "MISS"
        print(f"{kind}: floor {summary(by_page['floor'])}")
        print(f"{kind}: app   {summary(by_page['app'])}")
        print(f"{kind}: app ÷ floor (medians) {ratio:.2f}; goal ≤ {CLICK_RATIO_GOAL}: {verdict}")


def report_opens(label: str, seconds: list[float], goal: float | None) -> None:
    rest = seconds[1:] or seconds
    text = (
        f"{label}: first {seconds[0]:.2f} s, then median {statistics.median(rest):.2f} s "
        f"(max {max(rest):.2f} s, n={len(rest)})"
    )
    if goal is not None:
        verdict = "PASS" if max(seconds[0], statistics.median(rest)) < goal else "MISS"
        text += f"; goal < {goal:g} s: {verdict}"
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="answer and step rounds")
    parser.add_argument("--opens", type=int, default=5, help="caseload opens per server")
    parser.add_argument("--cases", type=int, default=10_000, help="cases of the large caseload")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the large database here")
    args = parser.parse_args()
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        large_url = large_database(folder, args.cases)
        large_env = {"TAILORING_DATABASE_URL": large_url, "TAILORING_DEMO": "0"}
        with (
            floor_server() as floor_url,
            running_app(Path(scratch) / "demo") as demo,
            running_app(Path(scratch) / "large", env=large_env) as large,
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            floor, app = new_page(browser), new_page(browser)
            for page in (floor, app):
                page.context.add_init_script(CLICK_CLOCK)
            goto(floor, floor_url)
            goto(app, demo.url)  # the entry point runs once before a deep link (conftest)
            goto(app, f"{demo.url}/walkthrough?case={CASE_ID}")
            for page in (floor, app):  # warm-up: first runs import and cache
                timed_click(page, step(2, "Social context"))
                timed_click(page, step(1, "Preferences"))
                timed_click(page, answer(ANSWERS[1]))
            report_clicks(walkthrough_clicks(floor, app, args.rounds))
            print(f"load average after the clicks: {os.getloadavg()[0]:.1f}")

            for server in (demo, large):
                goto(app, server.url)  # the entry point, then the caseload by its address
            opens: dict[str, list[float]] = {"floor5": [], "floor": [], "demo": [], "large": []}
            for _ in range(args.opens):
                opens["floor5"].append(open_seconds(browser, f"{floor_url}/?rows=5"))
                opens["demo"].append(open_seconds(browser, f"{demo.url}/caseload"))
                opens["floor"].append(open_seconds(browser, f"{floor_url}/?rows={args.cases}"))
                opens["large"].append(open_seconds(browser, f"{large.url}/caseload"))
            report_opens("floor, a table of 5 rows", opens["floor5"], None)
            report_opens("caseload, demo cases", opens["demo"], OPEN_GOALS_S["demo"])
            report_opens(f"floor, a table of {args.cases:,} rows", opens["floor"], None)
            report_opens(f"caseload, {args.cases:,} cases", opens["large"], OPEN_GOALS_S["large"])
            print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
            browser.close()


if __name__ == "__main__":
    main()
