"""Expected-change curves with a failure boundary, derived from a service's finished courses.

The boundary answers "is this patient not on track?" by comparison with patients who started
where this one did (Lambert's expected-recovery curves and Lutz's failure boundary work the
same way; their published curves are for other measures or licensed, so we derive our own):

- Courses: finished courses (ended after two or more attended treatment appointments) whose
  first score on the measure, at the first scored treatment appointment, is at caseness.
- Start: the measure's band of that first score (bands below caseness are never curved: the
  not-on-track flag is never raised for a patient who started below caseness).
- Appointment k: the k-th attended treatment appointment of the course; its score counts when
  the measure is complete there.
- Expected: the median score at appointment k; boundary: the ``percentile`` (75th by default)
  score, i.e. a patient scoring above it is doing worse than three in four who started in the
  same band. A point needs ``min_cases`` courses (20 by default), or there is none.

``python -m tailoring expected-change`` computes the curves from the database's finished
courses (or from the invented demo caseload) for content/measures/expected_change.yaml. None are
shipped there: content/examples/ holds curves of invented cases, as an example only.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from tailoring.engine.outcomes import expected_scores, finished_course
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import (
    ExpectedChange,
    ExpectedCurve,
    ExpectedPoint,
)

PERCENTILE = 75.0
MIN_CASES = 20


def derive_expected_change(
    content: ContentLibrary,
    cases: Iterable[Case],
    source: str,
    percentile: float = PERCENTILE,
    min_cases: int = MIN_CASES,
    on: datetime.date | None = None,
) -> ExpectedChange:
    """The curves of every measure with a caseness threshold, by the rules in the docstring."""
    measures = [m for m in content.measures if m.caseness is not None]
    # (measure id, band index) -> appointment -> scores
    scores: dict[tuple[str, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for case in cases:
        if not finished_course(case, content.tracking):
            continue
        for measure in measures:
            scored = expected_scores(measure, case)
            if not scored or measure.caseness is None or scored[0][2] < measure.caseness:
                continue
            start_band = measure.bands.index(measure.band(scored[0][2]))
            for k, _, total in scored:
                scores[(measure.id, start_band)][k].append(total)
    curves = []
    for measure in measures:
        for band_index, band in enumerate(measure.bands):
            by_k = scores.get((measure.id, band_index), {})
            points = [
                ExpectedPoint(
                    appointment=k,
                    expected=round(float(np.median(values)), 1),
                    boundary=round(float(np.percentile(values, percentile)), 1),
                    cases=len(values),
                )
                for k, values in sorted(by_k.items())
                if len(values) >= min_cases
            ]
            if points:
                curves.append(
                    ExpectedCurve(
                        measure=measure.id,
                        start_min=max(band.min, measure.caseness or 0),
                        start_max=band.max,
                        label=band.label,
                        points=points,
                    )
                )
    return ExpectedChange(
        source=source,
        computed_on=(on or datetime.date.today()).isoformat(),
        percentile=percentile,
        min_cases=min_cases,
        curves=curves,
    )
