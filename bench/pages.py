"""Times a rerun of each page on the server side, through Streamlit's AppTest.

Run from the project folder: ``.venv/bin/python bench/pages.py`` (``--profile`` adds where the time
goes for every page or step that misses its target).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring import services  # noqa: E402
from tailoring.model.case import WALK_STEPS  # noqa: E402

APP = ROOT / "app.py"
TARGET_P95_MS = 100.0
# The demo cases are loaded in file order into an empty database, so demo-02 is case 2.
DEMO_CASE_ID = 2


def fresh_app() -> Any:
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=60)


def timed_reruns(at: Any, runs: int) -> list[float]:
    """Seconds taken by each of ``runs`` reruns, after one untimed warm-up rerun."""
    at.run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    if at.exception:
        raise RuntimeError(f"the page failed: {at.exception[0].message}")
    return times


def profiled_reruns(at: Any, runs: int) -> pstats.Stats:
    """Profile ``runs`` reruns; AppTest runs the script in a thread of its own, so wrap that."""
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    profile = cProfile.Profile()
    script_thread = LocalScriptRunner._run_script_thread

    def profiled(runner: LocalScriptRunner) -> None:
        profile.runcall(script_thread, runner)

    LocalScriptRunner._run_script_thread = profiled  # type: ignore[method-assign]
    try:
        for _ in range(runs):
            at.run()
    finally:
        LocalScriptRunner._run_script_thread = script_thread  # type: ignore[method-assign]
    return pstats.Stats(profile)


def long_case() -> int:
    """A case with 40 attended sessions, every measure and the alliance check complete."""
    from tests.session_factory import case_with_sessions, session

    content = services.content()
    sessions = [
        session(
            content,
            n,
            phq9=max(0, 22 - n // 2),
            anxiety=max(0, 18 - n // 3),
            alliance={
                i.id: (int(n % 9 == 0) if i.kind == "rupture" else 3) for i in content.alliance
            },
        )
        for n in range(1, 41)
    ]
    for s in sessions:
        s["measures"]["wsas"] = {f"wsas_{i}": 4 for i in range(1, 6)}
    case = case_with_sessions(content, sessions).model_copy(update={"reference": "BENCH-040"})
    return services.import_case(services.file_case_json(case))


def pages_to_time() -> list[tuple[str, Any]]:
    """Each page (and each walk-through step) with an AppTest already on it."""
    at = fresh_app()
    at.run()  # loads the demo cases into the empty database
    prepared = []
    forty = long_case()
    for page in ("sessions", "timeline"):
        at = fresh_app()
        at.session_state["case_id"] = forty
        at.switch_page(f"pages/{page}.py")
        prepared.append((f"{page} · 40 sessions", at))
    for page in ("cases", "library", "practice"):
        at = fresh_app()
        at.switch_page(f"pages/{page}.py")
        prepared.append((page, at))
    for step in WALK_STEPS:
        at = fresh_app()
        at.session_state["case_id"] = DEMO_CASE_ID
        at.switch_page("pages/walkthrough.py")
        at.run()  # the page takes the case's saved step on first opening; then set ours
        if "walk.step" not in at.session_state:
            raise RuntimeError(f"the walk-through did not open case {DEMO_CASE_ID}")
        at.session_state["walk.step"] = step
        prepared.append((f"walkthrough · {step}", at))
    return prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed reruns per page or step")
    parser.add_argument("--profile", action="store_true", help="profile the pages that miss")
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile")
    args = parser.parse_args()

    # The PDF export logs every font it subsets; the figures are what this script is for.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["TAILORING_DATABASE_URL"] = f"sqlite:///{Path(folder) / 'bench.db'}"
        os.environ["TAILORING_DEMO"] = "1"
        services.upgrade_database()
        rows = []
        missed = []
        for label, at in pages_to_time():
            times = timed_reruns(at, args.runs)
            median, p95 = statistics.median(times) * 1e3, float(np.percentile(times, 95)) * 1e3
            ok = p95 < TARGET_P95_MS
            rows.append((label, median, p95, "PASS" if ok else "MISS"))
            if not ok:
                missed.append((label, at))

        width = max(len(r[0]) for r in rows)
        print(f"{args.runs} reruns each after one warm-up; target p95 < {TARGET_P95_MS:g} ms")
        print(f"{'page':<{width}}  {'median ms':>9}  {'p95 ms':>7}  result")
        for label, median, p95, result in rows:
            print(f"{label:<{width}}  {median:>9.1f}  {p95:>7.1f}  {result}")

        if args.profile:
            for label, at in missed:
                print(f"\n--- {label}: cumulative time over 10 reruns ---")
                stats = profiled_reruns(at, 10)
                stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
