"""Times the caseload import (a 100,000-row CSV, checked row by row, built into cases, stored,
then their figures computed) and the caseload aggregates over 100,000 cases.

Run from the project folder: ``.venv/bin/python bench/caseload_import.py`` (``--help`` for sizes).
The rows come from the demo generator (2,000 invented cases by default), repeated under new
references until the file has the rows asked for; the last case may be cut short, which is
still a valid case. Issue 4's target: under 10 s with full validation (the check and the
store; the figures are computed afterwards, with a progress bar, and timed apart). Wall time
and CPU time are both printed: on a shared machine the CPU time is the steadier figure. The
database is a SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring.content import library  # noqa: E402
from tailoring.demo import demo_cases  # noqa: E402
from tailoring.engine.assess import assess  # noqa: E402
from tailoring.engine.caseload import case_metrics, caseload_frame, caseload_summary  # noqa: E402
from tailoring.export.caseload import cases_csv  # noqa: E402
from tailoring.imports.caseload import parse_caseload  # noqa: E402
from tailoring.model.caseload import ImportReport  # noqa: E402
from tailoring.model.content import ContentLibrary  # noqa: E402
from tailoring.storage.db import upgraded_engine  # noqa: E402
from tailoring.storage.unit_of_work import unit_of_work  # noqa: E402

TARGET_S = 10.0


def caseload_file(content: ContentLibrary, rows: int, cases: int, seed: int) -> bytes:
    """A CSV of exactly ``rows`` data rows: the demo cases, copied under new references."""
    header, *lines = cases_csv(demo_cases(content, cases, seed), content).splitlines()
    out = [header]
    copy = 0
    while len(out) <= rows:
        for line in lines:
            reference, rest = line.split(",", 1)
            out.append(f"{reference}-{copy},{rest}")
            if len(out) > rows:
                break
        copy += 1
    return ("\n".join(out) + "\n").encode()


def with_errors(data: bytes, share: float, seed: int) -> bytes:
    """The same file with a share of rows broken in one of several ways."""
    rng = random.Random(seed)
    header, *lines = data.decode().splitlines()
    breaks = [
        lambda cells: cells.__setitem__(2, "primal_scream"),
        lambda cells: cells.__setitem__(7, "05/01/2026"),
        lambda cells: cells.__setitem__(10, "7"),
        lambda cells: cells.__setitem__(3, "many"),
    ]
    for index in rng.sample(range(len(lines)), int(len(lines) * share)):
        cells = lines[index].split(",")
        rng.choice(breaks)(cells)
        lines[index] = ",".join(cells)
    return ("\n".join([header, *lines]) + "\n").encode()


def timed(data: bytes, content: ContentLibrary, runs: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of each run, and the last run's report."""
    walls, cpus, report = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        report = parse_caseload(data, "caseload.csv", content)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, report


def aggregates(content: ContentLibrary, rows: int, seed: int, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of caseload_summary over ``rows`` cases (500 real rows of
    metrics from assessed demo cases, repeated)."""
    sample = demo_cases(content, 500, seed)
    frame = caseload_frame(case_metrics(assess(content, c), c) for c in sample)
    frame = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).iloc[:rows]
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        caseload_summary(frame)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def stores(report: ImportReport, runs: int) -> list[float]:
    """Seconds to store the report's cases (``import_cases``, one transaction), each run into a
    fresh SQLite database."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            engine = upgraded_engine(f"sqlite:///{Path(folder) / 'store.db'}")
            start = time.perf_counter()
            with unit_of_work(engine) as uow:
                uow.caseload.import_cases(report.cases)
            times.append(time.perf_counter() - start)
            engine.dispose()
    return times


def through_services(data: bytes, figures: int) -> None:
    """The page's path on a fresh database: check (with the reference rules and the stored
    references), import, then the figures of the first ``figures`` cases, in batches."""
    from tailoring import services

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TAILORING_DATABASE_URL"] = f"sqlite:///{Path(folder) / 'import.db'}"
        services.upgrade_database()
        services.caseload_stamp()  # the engine made and the schema checked
        start = time.perf_counter()
        report = services.check_caseload_file("caseload.csv", data)
        checked = time.perf_counter() - start
        start = time.perf_counter()
        ids = services.import_caseload(report)
        stored = time.perf_counter() - start
        total = checked + stored
        verdict = "PASS" if total < TARGET_S else "MISS"
        print(
            f"the page's import: check_caseload_file {checked:.2f} s + import_caseload "
            f"{stored:.2f} s = {total:.2f} s for {len(ids):,} cases; target < {TARGET_S:g} s: "
            f"{verdict}"
        )
        sample = ids[: figures or len(ids)]
        start = time.perf_counter()
        for first in range(0, len(sample), services.FIGURES_BATCH):
            services.compute_figures(sample[first : first + services.FIGURES_BATCH])
        took = time.perf_counter() - start
        each = took / len(sample)
        print(
            f"figures of {len(sample):,} cases (compute_figures, {services.FIGURES_BATCH} a "
            f"batch): {took:.1f} s, {each * 1e3:.1f} ms a case; all {len(ids):,} cases "
            f"{'took' if len(sample) == len(ids) else 'would take'} {each * len(ids):.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=2_000, help="demo cases to copy from")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument(
        "--figures", type=int, default=1_000, help="cases whose figures are computed (0: all)"
    )
    args = parser.parse_args()
    content = library()
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    start = time.perf_counter()
    clean = caseload_file(content, args.rows, args.cases, args.seed)
    made = time.perf_counter() - start
    print(f"invent the file: {made:.1f} s, {len(clean) / 1024 / 1024:.1f} MB, {args.rows:,} rows")

    walls, cpus, report = timed(clean, content, args.runs)
    median = statistics.median(walls)
    verdict = "PASS" if median < TARGET_S else "MISS"
    print(
        f"clean file: parse_caseload median of {args.runs} {median:.2f} s wall "
        f"(runs {', '.join(f'{t:.2f}' for t in walls)}), {statistics.median(cpus):.2f} s CPU; "
        f"target < {TARGET_S:g} s: {verdict}"
    )
    print(
        f"  rows read {report.rows_read:,}, cases built {report.valid_cases:,}, "
        f"problems {report.errors_total}, {median / report.rows_read * 1e6:.0f} µs a row"
    )

    store = stores(report, args.runs)
    print(
        f"store the {report.valid_cases:,} cases ({report.rows_read:,} rows), import_cases: "
        f"median of {args.runs} {statistics.median(store):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in store)})"
    )
    through_services(clean, args.figures)

    broken = with_errors(clean, 0.01, args.seed)
    walls, cpus, report = timed(broken, content, args.runs)
    print(
        f"1% of rows broken: median {statistics.median(walls):.2f} s wall, "
        f"{statistics.median(cpus):.2f} s CPU; problems {report.errors_total:,} "
        f"({len(report.errors):,} kept), cases built {report.valid_cases:,}, "
        f"cases refused {len(report.invalid_references):,}"
    )

    wall, cpu = aggregates(content, args.rows, args.seed, args.runs)
    print(f"caseload_summary over {args.rows:,} cases: median {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
