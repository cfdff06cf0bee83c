"""Times the caseload page: reruns with 10,000 cases, and the first render of its table with
100,000 cases and 1,000,000 sessions, with the memory it takes.

Run from the project folder: ``.venv/bin/python bench/caseload.py`` (``--help`` for sizes).
Issue 4's targets: a rerun with 10,000 cases in under 300 ms at p95 (server side), and the
table of 100,000 cases with 1,000,000 sessions in under 1 s from a cold start.

Each database is filled in a child process, so the measuring process holds only what the page
does: invented demo cases (``tailoring/demo.py``) are stored with ``import_cases`` and assessed
for their real figures and flags; copies of them under new references, drawn so the caseload
has ten sessions a case, are stored the same way, and each copy gets the stored figures of its
original (inserted straight into ``case_metrics``; the page reads them the normal way). The page
is timed through Streamlit's AppTest (the script as the server runs it: no browser, no
websocket), like ``bench/pages.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP = ROOT / "app.py"
PAGE = "pages/caseload.py"
RERUN_TARGET_MS = 300.0
FIRST_RENDER_TARGET_S = 1.0
TABLE = "table_s"


def rss_mb() -> float:
    """The process's resident memory now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


# Filling a database (in a child process) -----------------------------------------------------


def tilted(counts: list[int], mean: float) -> list[float]:
    """Weights w_i = exp(θ·count_i) whose weighted mean count is ``mean`` (θ by bisection)."""
    low, high = -5.0, 5.0
    for _ in range(60):
        theta = (low + high) / 2
        weights = [math.exp(theta * (c - mean)) for c in counts]
        average = sum(w * c for w, c in zip(weights, counts, strict=True)) / sum(weights)
        low, high = (theta, high) if average < mean else (low, theta)
    return weights


def fill(url: str, cases: int, sessions: int, pool_size: int, seed: int) -> None:
    """Store ``cases`` cases with about ``sessions`` sessions and figures for every case."""
    from sqlalchemy import insert, select

    from tailoring import services
    from tailoring.demo import demo_cases
    from tailoring.storage.db import make_engine
    from tailoring.storage.tables import case_metrics
    from tests.store import app_store

    os.environ["TAILORING_DATABASE_URL"] = url
    services.upgrade_database(url)
    content = services.content()
    start = time.perf_counter()
    pool = demo_cases(content, min(pool_size, cases), seed)
    counts = [len(case.sessions) for case in pool]
    rng = random.Random(seed)
    extra = cases - len(pool)
    mean = (sessions - sum(counts)) / extra if extra else 0.0
    originals = rng.choices(range(len(pool)), tilted(counts, mean), k=extra) if extra else []
    copies = [
        pool[i].model_copy(update={"reference": f"BENCH-{n:06d}"}) for n, i in enumerate(originals)
    ]
    made = time.perf_counter() - start

    start = time.perf_counter()
    ids = app_store().caseload.import_cases([*pool, *copies])
    stored = time.perf_counter() - start

    start = time.perf_counter()
    services.compute_figures(ids[: len(pool)])
    figured = time.perf_counter() - start

    start = time.perf_counter()
    engine = make_engine(url)
    with engine.begin() as connection:
        rows = connection.execute(
            select(case_metrics).where(case_metrics.c.case_id.in_(ids[: len(pool)]))
        ).all()
        by_case = {row.case_id: row._asdict() for row in rows}
        copied = [
            {**by_case[ids[original]], "case_id": case_id}
            for original, case_id in zip(originals, ids[len(pool) :], strict=True)
        ]
        for batch in range(0, len(copied), 20_000):
            connection.execute(insert(case_metrics), copied[batch : batch + 20_000])
    metrics = time.perf_counter() - start
    total_sessions = sum(counts) + sum(counts[i] for i in originals)
    print(
        f"  filled {cases:,} cases, {total_sessions:,} sessions: invent {made:.1f} s, "
        f"import_cases {stored:.1f} s, figures of {len(pool):,} cases {figured:.1f} s "
        f"({figured / len(pool) * 1e3:.1f} ms a case), copy figures {metrics:.1f} s",
        flush=True,
    )


def filled(folder: Path, cases: int, args: argparse.Namespace) -> str:
    """The URL of a database of ``cases`` cases in ``folder``, filled unless it already is."""
    path = folder / f"caseload-{cases}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        fill_args = [str(cases), str(cases * args.sessions_per_case), str(args.pool)]
        command = [sys.executable, __file__, "--fill", url, *fill_args, str(args.seed)]
        subprocess.run(command, check=True)
    return url


# Timing the page ------------------------------------------------------------------------------


class TableClock:
    """Notes when the page has drawn its table: ``ui.caseload.table`` is wrapped to stamp it."""

    def __init__(self) -> None:
        import ui.caseload

        self.module = ui.caseload
        self.original = ui.caseload.table
        self.drawn_at = (math.nan, math.nan)

        def table(*args: Any) -> None:
            self.original(*args)
            self.drawn_at = (time.perf_counter(), time.process_time())

        ui.caseload.table = table

    def restore(self) -> None:
        self.module.table = self.original


def app_on_page(url: str) -> Any:
    """An AppTest on the caseload page of the database at ``url``, as a running server has it:
    its engine made and the schema checked (about a second, once per process and database)."""
    from streamlit.testing.v1 import AppTest

    from tailoring import services

    os.environ["TAILORING_DATABASE_URL"] = url
    services.caseload_stamp()  # the engine made and the schema checked
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page(PAGE)
    return at


def clear_caches() -> None:
    import logging

    import streamlit as st

    # Outside a script run Streamlit warns that there is none: expected here.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    st.cache_data.clear()
    st.cache_resource.clear()


def checked(at: Any) -> None:
    if at.exception:
        raise RuntimeError(f"the page failed: {at.exception[0].message}")
    if not at.dataframe:
        raise RuntimeError("the page drew no table")


def cold_run(url: str, clock: TableClock, trace: bool = False) -> dict[str, float]:
    """A first visit with every cache empty: seconds to the table and to the end of the run,
    wall and CPU (the process's, which is the script's: the test driver waits meanwhile)."""
    at = app_on_page(url)
    clear_caches()
    before = rss_mb()
    if trace:
        tracemalloc.start()
    clock.drawn_at = (math.nan, math.nan)
    start, cpu = time.perf_counter(), time.process_time()
    at.run()
    end, cpu_end = time.perf_counter(), time.process_time()
    figures = {
        TABLE: clock.drawn_at[0] - start,
        "table_cpu_s": clock.drawn_at[1] - cpu,
        "run_s": end - start,
        "run_cpu_s": cpu_end - cpu,
    }
    if trace:
        figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
    figures["rss_growth_mb"] = rss_mb() - before
    figures["rows"] = len(at.dataframe[0].value)  # the rows sent to the browser
    checked(at)
    return figures


def reruns(
    url: str, runs: int, before_each: Callable[[int], None] | None = None
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``runs`` reruns of an open page, after one untimed run;
    ``before_each(i)``, untimed, before the i-th."""
    at = app_on_page(url)
    at.run()
    checked(at)
    walls, cpus = [], []
    for i in range(runs):
        if before_each is not None:
            before_each(i)
        start, cpu = time.perf_counter(), time.process_time()
        at.run()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    checked(at)
    return walls, cpus


def reruns_after_a_change(url: str, runs: int) -> tuple[list[float], list[float]]:
    """Reruns of an open page, each after one case's figures were computed again (as after any
    change to a case): the stamp moves every time."""
    from tailoring import services

    os.environ["TAILORING_DATABASE_URL"] = url
    ids = random.Random(1).sample(services.caseload_table()["id"].tolist(), runs)
    return reruns(url, runs, lambda i: services.refresh_case(int(ids[i])))


def report_reruns(label: str, times: tuple[list[float], list[float]], target: bool = True) -> None:
    walls, cpus = times
    median, p95 = statistics.median(walls) * 1e3, float(np.percentile(walls, 95)) * 1e3
    verdict = "PASS" if p95 < RERUN_TARGET_MS else "MISS"
    verdict = f"; target p95 < {RERUN_TARGET_MS:g} ms: {verdict}" if target else ""
    print(
        f"{label}: {len(walls)} reruns, median {median:.0f} ms, p95 {p95:.0f} ms, "
        f"max {max(walls) * 1e3:.0f} ms (CPU median {statistics.median(cpus) * 1e3:.0f} ms, "
        f"p95 {float(np.percentile(cpus, 95)) * 1e3:.0f} ms){verdict}"
    )


def parts(url: str) -> None:
    """Each step of a cold caseload on its own, wall and CPU: where the time goes."""
    from tailoring import services

    os.environ["TAILORING_DATABASE_URL"] = url
    frames: dict[str, Any] = {}
    steps = [
        ("caseload_stamp", services.caseload_stamp),
        (
            "caseload_preview (the first visit's first 5,000 rows, most high flags first)",
            lambda: services.caseload_preview(False, "flags_high", True, 5000),
        ),
        ("caseload_table", services.caseload_table),
        ("caseload_figures", services.caseload_figures),
        (
            "caseload_overview of every case",
            lambda: services.caseload_overview(
                services.with_figures(frames["caseload_table"], frames["caseload_figures"])
            ),
        ),
    ]
    for label, step in steps:
        start, cpu = time.perf_counter(), time.process_time()
        frames[label] = step()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = ""
        if label in ("caseload_table", "caseload_figures"):
            megabytes = frames[label].memory_usage(deep=True).sum() / 1024 / 1024
            size = f", {megabytes:.0f} MB as a frame (pandas' deep count)"
        print(f"  {label}: {wall * 1e3:.0f} ms ({cpu * 1e3:.0f} ms CPU){size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases for the rerun timing")
    parser.add_argument("--large", type=int, default=100_000, help="cases for the first render")
    parser.add_argument("--sessions-per-case", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30, help="timed reruns")
    parser.add_argument("--cold", type=int, default=3, help="cold first renders of the large one")
    parser.add_argument("--pool", type=int, default=1_000, help="demo cases assessed for real")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the databases in this folder")
    parser.add_argument("--fill", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        url, cases, sessions, pool, seed = args.fill
        fill(url, int(cases), int(sessions), int(pool), int(seed))
        return

    import logging

    for name in ("tailoring", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ["TAILORING_DEMO"] = "0"
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        small = filled(folder, args.cases, args)
        large = filled(folder, args.large, args)

        # Import everything the page imports, so memory growth below is the page's data.
        warm = app_on_page(small)
        warm.run()
        checked(warm)
        clock = TableClock()
        try:
            report_reruns(f"{args.cases:,} cases, same filters", reruns(small, args.runs))
            cold = cold_run(small, clock)
            print(
                f"{args.cases:,} cases, first render (caches empty): table after "
                f"{cold[TABLE] * 1e3:.0f} ms ({cold['table_cpu_s'] * 1e3:.0f} ms CPU), whole run "
                f"{cold['run_s'] * 1e3:.0f} ms ({cold['run_cpu_s'] * 1e3:.0f} ms CPU)"
            )
            print(f"{args.cases:,} cases, each step alone:")
            parts(small)

            runs = [cold_run(large, clock) for _ in range(args.cold)]
            table = statistics.median(r[TABLE] for r in runs)
            verdict = "PASS" if table < FIRST_RENDER_TARGET_S else "MISS"
            print(
                f"{args.large:,} cases, first render (caches empty), median of {args.cold}: "
                f"table after {table:.2f} s (runs {', '.join(f'{r[TABLE]:.2f}' for r in runs)}; "
                f"CPU {statistics.median(r['table_cpu_s'] for r in runs):.2f} s), whole run "
                f"{statistics.median(r['run_s'] for r in runs):.2f} s (CPU "
                f"{statistics.median(r['run_cpu_s'] for r in runs):.2f} s); "
                f"target < {FIRST_RENDER_TARGET_S:g} s: {verdict}"
            )
            print(f"  resident memory grew by {runs[0]['rss_growth_mb']:.0f} MB on the first")
            traced = cold_run(large, clock, trace=True)
            print(
                f"  tracemalloc peak during a cold run: {traced['peak_mb']:.0f} MB "
                f"(run {traced['run_s']:.1f} s with tracing on)"
            )
            print(f"{args.large:,} cases, each step alone:")
            parts(large)
            report_reruns(
                f"{args.large:,} cases, same filters",
                reruns(large, min(args.runs, 10)),
                target=False,  # the issue sets the rerun target at 10,000 cases
            )
            report_reruns(
                f"{args.large:,} cases, rerun after one case changed",
                reruns_after_a_change(large, 5),
                target=False,
            )
        finally:
            clock.restore()
        print(f"resident memory at the end: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
