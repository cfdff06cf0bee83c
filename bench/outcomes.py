"""Times the outcome status of many cases at once: 100,000 cases with 1,000,000 sessions.

Run from the project folder: ``.venv/bin/python bench/outcomes.py`` (``--help`` for sizes).
The sessions are random but seeded; item answers drift per case so that every status occurs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring.content import library  # noqa: E402
from tailoring.engine.batch_outcomes import (  # noqa: E402
    KIND_CODES,
    STATUS_NAMES,
    STATUSES,
    BatchOutcomes,
    SessionArrays,
    batch_outcomes,
    session_arrays,
    totals_from_items,
)
from tailoring.engine.outcomes import case_outcomes  # noqa: E402
from tailoring.model.content import ContentLibrary  # noqa: E402
from tests.session_factory import random_cases_with_sessions  # noqa: E402

TARGET_S = 2.0


def random_items(rng: np.random.Generator, level: np.ndarray, k: int, top: int) -> np.ndarray:
    """S×k item answers around each row's level; about 4% of measures partial, 10% missing."""
    items = rng.binomial(top, level[:, None], size=(len(level), k)).astype(float)
    partial = rng.random(len(level)) < 0.04
    items[partial, rng.integers(0, k, partial.sum())] = np.nan
    items[rng.random(len(level)) < 0.10] = np.nan
    return items


def random_sessions(
    content: ContentLibrary, cases: int, sessions: int, seed: int
) -> tuple[np.ndarray, np.ndarray, SessionArrays]:
    """Item arrays of both measures, and the sessions with everything but the totals."""
    rng = np.random.default_rng(seed)
    case = np.sort(rng.integers(0, cases, sessions))
    number = np.arange(sessions) - np.searchsorted(case, case) + 1
    kinds = [KIND_CODES[k] for k in ("assessment", "treatment", "follow_up")]
    kind = rng.choice(kinds, size=sessions, p=[0.10, 0.82, 0.08]).astype(np.int8)
    kind[number == 1] = KIND_CODES["assessment"]
    attendance = rng.choice(3, size=sessions, p=[0.78, 0.14, 0.08]).astype(np.int8)
    level = np.clip(rng.random(cases)[case] + rng.normal(0, 0.06, cases)[case] * number, 0, 1)
    phq9 = content.measure(content.tracking.depression_measure)
    gad7 = content.measure("gad7")
    phq_items = random_items(rng, level, len(phq9.items), phq9.max_value)
    gad_items = random_items(rng, level, len(gad7.items), gad7.max_value)
    empty = np.full(sessions, np.nan)
    arrays = SessionArrays(
        case=case,
        number=number,
        kind=kind,
        attendance=attendance,
        depression=empty,
        anxiety=empty,
        anxiety_caseness=np.full(cases, float(gad7.caseness or 0)),
        anxiety_reliable_change=np.full(cases, float(gad7.reliable_change or 0)),
        ended=rng.random(cases) < 0.7,
    )
    return phq_items, gad_items, arrays


def timed(run, repeats: int) -> tuple[list[float], object]:
    run()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return times, result


def shares(result: BatchOutcomes) -> str:
    """How often each recovery status occurs, to show the draw is not degenerate."""
    counts = np.bincount(result.recovery, minlength=len(STATUS_NAMES))
    return ", ".join(
        f"{name} {c / counts.sum():.0%}" for name, c in zip(STATUS_NAMES, counts, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each step")
    parser.add_argument("--sample", type=int, default=2_000, help="cases checked in the loop")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    content = library()
    rows: list[tuple[str, str, str, str]] = []
    n, s = f"{args.cases:,}", f"{args.sessions:,}"

    start = time.perf_counter()
    phq_items, gad_items, arrays = random_sessions(content, args.cases, args.sessions, args.seed)
    rows.append((f"invent {s} sessions (not timed against a target)", _s(start), "", ""))

    def totals() -> SessionArrays:
        return replace(
            arrays, depression=totals_from_items(phq_items), anxiety=totals_from_items(gad_items)
        )

    total_times, scored = timed(totals, args.runs)
    assert isinstance(scored, SessionArrays)
    status_times, result = timed(lambda: batch_outcomes(content, scored), args.runs)
    assert isinstance(result, BatchOutcomes)
    both = statistics.median(total_times) + statistics.median(status_times)
    rows.append((f"{s} sessions: totals from items, median", _f(total_times), "", ""))
    rows.append(
        (
            f"{n} cases: batch_outcomes, median of {args.runs}",
            _f(status_times),
            f"< {TARGET_S:g} s",
            _verdict(statistics.median(status_times)),
        )
    )
    rows.append(("  same, slowest run", f"{max(status_times):.3f} s", "", ""))
    rows.append(("totals + outcome status", f"{both:.3f} s", f"< {TARGET_S:g} s", _verdict(both)))
    order = np.random.default_rng(args.seed).permutation(args.sessions)
    shuffled = replace(
        scored,
        **{
            f: getattr(scored, f)[order]
            for f in ("case", "number", "kind", "attendance", "depression", "anxiety")
        },
    )
    unsorted_times, _ = timed(lambda: batch_outcomes(content, shuffled), args.runs)
    rows.append(("  same, rows in random order (sorted first)", _f(unsorted_times), "", ""))
    rows.append(("  recovery statuses drawn", shares(result), "", ""))
    rows.append(
        ("  finished courses", f"{result.finished.mean():.0%} of cases", "", ""),
    )

    sample = random_cases_with_sessions(content, args.sample, seed=args.seed)
    start = time.perf_counter()
    looped = [case_outcomes(content, c) for c in sample]
    loop = (time.perf_counter() - start) * args.cases / len(sample)
    check = batch_outcomes(content, session_arrays(content, sample))
    same = all(
        check.status(name, i) == getattr(o, name) and check.finished[i] == o.finished
        for i, o in enumerate(looped)
        for name in STATUSES
    )
    rows.append(
        (f"case_outcomes loop, {len(sample):,} cases extrapolated to {n}", f"{loop:.1f} s", "", "")
    )
    rows.append(
        ("  loop ÷ batch_outcomes", f"{loop / statistics.median(status_times):,.0f}×", "", "")
    )
    rows.append(("  batch equals the loop on the sample", "yes" if same else "NO", "", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':>12}  {'target':>9}  result")
    for label, figure, target, verdict in rows:
        print(f"{label:<{width}}  {figure:>12}  {target:>9}  {verdict}")


def _s(start: float) -> str:
    return f"{time.perf_counter() - start:.2f} s"


def _f(times: list[float]) -> str:
    return f"{statistics.median(times):.3f} s"


def _verdict(seconds: float) -> str:
    return "PASS" if seconds < TARGET_S else "MISS"


if __name__ == "__main__":
    main()
