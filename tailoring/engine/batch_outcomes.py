"""Outcome status of many cases at once with numpy, by the same rules as engine/outcomes.py.

Sessions come in as flat arrays, one row per session (``SessionArrays``): the case's index, the
session number, kind and attendance as codes, and the depression and anxiety totals, NaN when the
measure is partial or not recorded. Each case carries its own anxiety thresholds, since a case may
use an anxiety-disorder-specific measure, and whether its referral has ended. ``batch_outcomes``
then works out, per case, the treatment sessions attended, a finished course, and the five
outcome statuses, with no loop over cases or sessions: the first and last scores are the first
and last rows of each case's run of scored attended treatment sessions, and the three-valued
logic of outcomes.py becomes ``minimum`` (and), ``maximum`` (or) and ``2 − x`` (not) on the
codes no 0 < not known 1 < yes 2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tailoring.engine.outcomes import score_measure
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure
from tailoring.model.report import OutcomeStatus
from tailoring.model.session import ATTENDANCES, SESSION_KINDS, TREATMENT_KINDS, Session

KIND_CODES = {kind: code for code, kind in enumerate(SESSION_KINDS)}
ATTENDANCE_CODES = {attendance: code for code, attendance in enumerate(ATTENDANCES)}
NO, NOT_KNOWN, YES, NOT_AT_CASENESS = 0, 1, 2, 3
STATUS_NAMES: tuple[OutcomeStatus, ...] = ("no", "not_enough_data", "yes", "not_at_caseness")
STATUSES = (
    "caseness_at_start",
    "reliable_improvement",
    "reliable_deterioration",
    "recovery",
    "reliable_recovery",
)


@dataclass(frozen=True)
class SessionArrays:
    """S sessions of N cases; rows need not be sorted (they are sorted by case and number)."""

    case: np.ndarray  # S int: index of the session's case, 0 … N−1
    number: np.ndarray  # S int: session number, unique within a case
    kind: np.ndarray  # S int: KIND_CODES
    attendance: np.ndarray  # S int: ATTENDANCE_CODES
    depression: np.ndarray  # S float: depression total, NaN when partial or not recorded
    anxiety: np.ndarray  # S float: the case's anxiety measure total, NaN likewise
    anxiety_caseness: np.ndarray  # N float: each case's anxiety caseness threshold
    anxiety_reliable_change: np.ndarray  # N float: each case's anxiety reliable change
    ended: np.ndarray  # N bool: the case's referral has ended (a finished course needs it)

    @property
    def n_cases(self) -> int:
        return len(self.anxiety_caseness)


@dataclass(frozen=True)
class BatchOutcomes:
    """Per case: attendance, a finished course, and each status as a code of STATUS_NAMES."""

    treatment_sessions_attended: np.ndarray  # N int
    finished: np.ndarray  # N bool
    caseness_at_start: np.ndarray  # N int8
    reliable_improvement: np.ndarray  # N int8
    reliable_deterioration: np.ndarray  # N int8
    recovery: np.ndarray  # N int8
    reliable_recovery: np.ndarray  # N int8

    def status(self, name: str, case: int) -> OutcomeStatus:
        """One case's status by name, in the words of ``Outcomes``."""
        if name not in STATUSES:
            raise ValueError(f"unknown outcome status {name!r}")
        return STATUS_NAMES[int(getattr(self, name)[case])]


def totals_from_items(items: np.ndarray) -> np.ndarray:
    """Totals of an S×k array of item values; NaN where any item is NaN (partial: not scored)."""
    totals: np.ndarray = items.sum(axis=1)
    return totals


def _total(measure: Measure, session: Session) -> float:
    """The session's total on the measure; NaN when it was not answered or is partial."""
    answers = session.measures.get(measure.id)
    total = None if answers is None else score_measure(measure, answers).total
    return np.nan if total is None else float(total)


def session_arrays(content: ContentLibrary, cases: list[Case]) -> SessionArrays:
    """Lay out the sessions of validated cases as arrays (a plain loop over the sessions)."""
    depression = content.measure(content.tracking.depression_measure)
    anxiety_measures = [content.measure(c.anxiety_measure) for c in cases]
    rows: list[tuple[int, int, int, int, float, float]] = []
    for index, (case, anxiety) in enumerate(zip(cases, anxiety_measures, strict=True)):
        for s in case.sessions:
            rows.append(
                (
                    index,
                    s.number,
                    KIND_CODES[s.kind],
                    ATTENDANCE_CODES[s.attendance],
                    _total(depression, s),
                    _total(anxiety, s),
                )
            )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return SessionArrays(
        case=np.array(columns[0], dtype=np.int64),
        number=np.array(columns[1], dtype=np.int64),
        kind=np.array(columns[2], dtype=np.int8),
        attendance=np.array(columns[3], dtype=np.int8),
        depression=np.array(columns[4], dtype=float),
        anxiety=np.array(columns[5], dtype=float),
        anxiety_caseness=np.array([m.caseness for m in anxiety_measures], dtype=float),
        anxiety_reliable_change=np.array(
            [m.reliable_change for m in anxiety_measures], dtype=float
        ),
        ended=np.array([c.ended for c in cases], dtype=bool),
    )


def _in_order(s: SessionArrays) -> SessionArrays:
    """The sessions sorted by case, then session number (a no-op when they already are)."""
    session_fields = ("case", "number", "kind", "attendance", "depression", "anxiety")
    lengths = {len(getattr(s, f)) for f in session_fields}
    if len(lengths) != 1:
        raise ValueError("session arrays differ in length")
    if len(s.case) and (s.case.min() < 0 or s.case.max() >= s.n_cases):
        raise ValueError(f"case indices must lie in 0…{s.n_cases - 1}")
    step = np.diff(s.case)
    if np.all((step > 0) | ((step == 0) & (np.diff(s.number) > 0))):
        return s
    order = np.lexsort((s.number, s.case))
    return replace(s, **{f: getattr(s, f)[order] for f in session_fields})


def _first_last(
    case: np.ndarray, values: np.ndarray, counted: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per case: the first and last scored value among counted rows, and how many there are."""
    rows = np.flatnonzero(counted & ~np.isnan(values))
    owner = case[rows]
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if rows.size:
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:] - 1, rows.size - 1]
        first[owner[starts]] = values[rows[starts]]
        last[owner[ends]] = values[rows[ends]]
    return first, last, np.bincount(owner, minlength=n)


def _known(condition: np.ndarray, known: np.ndarray) -> np.ndarray:
    return np.where(known, np.where(condition, YES, NO), NOT_KNOWN).astype(np.int8)


def _measure(
    first: np.ndarray,
    last: np.ndarray,
    count: np.ndarray,
    caseness: float | np.ndarray,
    reliable: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Caseness at start and end, reliable drop and rise, as codes."""
    paired = count >= 2
    with np.errstate(invalid="ignore"):
        return (
            _known(first >= caseness, count >= 1),
            _known(last >= caseness, paired),
            _known(first - last >= reliable, paired),
            _known(last - first >= reliable, paired),
        )


def _threshold(value: int | None) -> float:
    """A measure's threshold as the arrays hold it: NaN where the measure has none."""
    return np.nan if value is None else float(value)


def batch_outcomes(content: ContentLibrary, sessions: SessionArrays) -> BatchOutcomes:
    """Outcome status of every case, equal to ``case_outcomes`` case by case."""
    s = _in_order(sessions)
    n = s.n_cases
    depression = content.measure(content.tracking.depression_measure)
    treatment = np.isin(s.kind, [KIND_CODES[k] for k in TREATMENT_KINDS])
    counted = treatment & (s.attendance == ATTENDANCE_CODES["attended"])
    attended = np.bincount(s.case[counted], minlength=n)
    d_start, d_end, d_drop, d_rise = _measure(
        *_first_last(s.case, s.depression, counted, n),
        _threshold(depression.caseness),
        _threshold(depression.reliable_change),
    )
    a_start, a_end, a_drop, a_rise = _measure(
        *_first_last(s.case, s.anxiety, counted, n),
        s.anxiety_caseness,
        s.anxiety_reliable_change,
    )
    at_start = np.maximum(d_start, a_start)
    improvement = np.maximum(np.minimum(d_drop, YES - a_rise), np.minimum(a_drop, YES - d_rise))
    recovered = np.minimum(YES - d_end, YES - a_end)

    def gated(status: np.ndarray) -> np.ndarray:
        """Recovery is defined only at caseness at the start."""
        return np.select(
            [at_start == NO, at_start == NOT_KNOWN], [NOT_AT_CASENESS, NOT_KNOWN], status
        ).astype(np.int8)

    return BatchOutcomes(
        treatment_sessions_attended=attended,
        finished=s.ended & (attended >= content.tracking.finished_min_treatment_sessions),
        caseness_at_start=at_start,
        reliable_improvement=improvement,
        reliable_deterioration=np.maximum(d_rise, a_rise),
        recovery=gated(recovered),
        reliable_recovery=gated(np.minimum(recovered, improvement)),
    )
