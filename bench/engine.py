"""Times the fit engine: one case against every protocol, and many cases at once with numpy.

Run from the project folder: ``.venv/bin/python bench/engine.py`` (``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring.content import library  # noqa: E402
from tailoring.engine.assess import assess, protocol_fit  # noqa: E402
from tailoring.engine.batch import case_matrix, overall_fits, protocol_matrix  # noqa: E402
from tailoring.engine.fit import score_protocols  # noqa: E402
from tailoring.model.case import Case  # noqa: E402
from tailoring.model.content import ContentLibrary  # noqa: E402
from tests.case_factory import full_case, random_cases  # noqa: E402

ONE_CASE_MEDIAN_MS = 1.0
BATCH_S = 1.0


def timings(run: Callable[[], object], repeats: int, warm_up: int = 20) -> list[float]:
    """Seconds taken by each of ``repeats`` calls, after a few untimed ones."""
    for _ in range(warm_up):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def p95(times: list[float]) -> float:
    return float(np.percentile(times, 95))


def per_case_loop(content: ContentLibrary, cases: list[Case]) -> np.ndarray:
    """The plain loop the batch replaces: the engine's figures, one case at a time."""
    return np.array(
        [
            [np.nan if f is None else f for f in score_protocols(content, c.answers).values()]
            for c in cases
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2_000, help="runs of the one-case timing")
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the batch")
    parser.add_argument("--sample", type=int, default=2_000, help="cases timed in the plain loop")
    parser.add_argument("--batch-runs", type=int, default=5, help="timed runs of the scoring")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()

    content = library()
    protocols = content.protocols
    rows: list[tuple[str, str, str, str]] = []

    case = full_case(content, seed=args.seed)
    one = timings(lambda: score_protocols(content, case.answers), args.repeats)
    rows.append(
        (
            f"one case × {len(protocols)} protocols (score_protocols), median",
            f"{statistics.median(one) * 1e3:.3f} ms",
            f"< {ONE_CASE_MEDIAN_MS:g} ms",
            "PASS" if statistics.median(one) * 1e3 < ONE_CASE_MEDIAN_MS else "MISS",
        )
    )
    rows.append(("  same, p95", f"{p95(one) * 1e3:.3f} ms", "", ""))
    explained = timings(lambda: [protocol_fit(content, case, p) for p in protocols], args.repeats)
    rows.append(
        (
            f"one case × {len(protocols)} protocols, explained with flags (protocol_fit), median",
            f"{statistics.median(explained) * 1e3:.3f} ms",
            "",
            "",
        )
    )
    full = timings(lambda: assess(content, case), args.repeats)
    rows.append(
        ("one case, full assess(), median", f"{statistics.median(full) * 1e3:.3f} ms", "", "")
    )
    rows.append(("  same, p95", f"{p95(full) * 1e3:.3f} ms", "", ""))
    pm = protocol_matrix(content)
    numbers = timings(lambda: overall_fits(content, case_matrix(content, [case]), pm), args.repeats)
    rows.append(
        (
            "one case, overall figures only (case_matrix + overall_fits), median",
            f"{statistics.median(numbers) * 1e3:.3f} ms",
            "",
            "",
        )
    )

    start = time.perf_counter()
    cases = random_cases(content, args.cases, seed=args.seed)
    invent = time.perf_counter() - start
    start = time.perf_counter()
    cm = case_matrix(content, cases)
    build = time.perf_counter() - start
    scoring = timings(lambda: overall_fits(content, cm, pm), args.batch_runs, warm_up=1)
    score = statistics.median(scoring)
    n = f"{args.cases:,}"
    rows.append((f"invent {n} valid cases (not timed against a target)", f"{invent:.2f} s", "", ""))
    rows.append((f"{n} cases: build matrices", f"{build:.3f} s", "", ""))
    rows.append(
        (
            f"{n} cases × {len(protocols)}: overall_fits, median of {args.batch_runs}",
            f"{score:.3f} s",
            f"< {BATCH_S:g} s",
            "PASS" if score < BATCH_S else "MISS",
        )
    )
    rows.append(("  same, slowest run", f"{max(scoring):.3f} s", "", ""))
    rows.append(
        (
            f"{n} cases: matrices + scoring",
            f"{build + score:.3f} s",
            f"< {BATCH_S:g} s",
            "PASS" if build + score < BATCH_S else "MISS",
        )
    )

    sample = cases[: args.sample]
    start = time.perf_counter()
    looped = per_case_loop(content, sample)
    loop = (time.perf_counter() - start) * args.cases / len(sample)
    same = np.array_equal(looped, overall_fits(content, cm, pm)[: len(sample)], equal_nan=True)
    rows.append((f"plain loop, {len(sample):,} cases extrapolated to {n}", f"{loop:.1f} s", "", ""))
    rows.append(("  loop ÷ overall_fits", f"{loop / score:,.0f}×", "", ""))
    rows.append(("  loop ÷ (matrices + overall_fits)", f"{loop / (build + score):,.0f}×", "", ""))
    rows.append(("  batch figures identical to the loop's", "yes" if same else "NO", "", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':>12}  {'target':>9}  result")
    for label, figure, target, result in rows:
        print(f"{label:<{width}}  {figure:>12}  {target:>9}  {result}")


if __name__ == "__main__":
    main()
