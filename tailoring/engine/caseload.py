"""Caseload figures for supervision: one row of metrics per case, and rates over many cases.

Per case (``case_metrics``):
- Alliance trend: the 0–100 alliance scores of the last two sessions rated on at least
  ``min_ratings`` items (3 by default, as the rupture rule) are compared, as shown, to one
  decimal: a rise of TREND_POINTS (10) or more is "up", a fall of 10 or more "down", anything
  in between "steady"; with fewer than two such sessions, "none". The latest alliance score is
  the later of the two (the latest qualifying session); with no qualifying session it is the
  walk-through's alliance check, and the trend is "none".
- Outcome, one word by precedence: "deterioration" (reliable deterioration) > "not_on_track"
  (a session.not_on_track flag: no reliable improvement after the rules' number of sessions) >
  "recovered" (recovery or reliable recovery) > "reliable_improvement" > "in_progress" (sessions
  recorded but none of these) > "no_data" (no sessions recorded). The word is for the table; the
  rates count each definition on its own, so a case can count in recovery and deterioration.
- Dropped after the first session: exactly one attended treatment session, and every session
  recorded after it was missed or cancelled, or there is none. Assessment and follow-up
  appointments do not count as treatment. An active case just past its first treatment session
  counts until a second is attended: the figure is "has attended only one so far", the funnel's
  view of drop-out, not a judgement that the patient has left. (The session.dropout_risk flag is
  a different, earlier signal: one attended session of any kind, then a missed one.)

Over many cases (work on a pandas frame from ``caseload_frame``, vectorised; 100,000 rows take
well under a second). Denominators, as NHS Talking Therapies reports them:
- started: at least one attended treatment appointment (treatment, or assessment and
  treatment: our reading of the glossary's "entered treatment"; assessment-only appointments do
  not count); finished: a finished course (the ``finished`` column, the engine's rule from the
  NHS Digital glossary: the referral has ended after at least two attended treatment
  appointments, so open cases never count, however many sessions they have had); finished at
  caseness: finished, and at caseness on depression or anxiety at the first scored treatment
  appointment.
- recovery and reliable recovery: among finished courses at caseness at the start.
- reliable improvement, reliable deterioration, not on track: among finished courses.
- completion (finished) and drop-out after the first session: among cases that started.
- funnel: cases → started → finished → recovered, each stage's rate over the stage before it,
  except recovered, which is over finished courses at caseness (a patient who was never at
  caseness cannot recover); every stage is also given as a share of all cases, which is the
  part of the story a recovery rate among finishers hides.
- Every rate is a ``Rate``: below SMALL_DENOMINATOR (10) in the denominator it is a small
  number, has no value, and reads "n of d", never a percentage.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

import numpy as np
import pandas as pd

from tailoring.model.base import ThemeId
from tailoring.model.case import Case
from tailoring.model.caseload import (
    SMALL_DENOMINATOR,
    AllianceTrend,
    CaseloadSummary,
    CaseMetrics,
    CaseOutcome,
    FitBin,
    FitDistribution,
    FunnelStage,
    FunnelStageId,
    OpenFlag,
    OutcomeRates,
    Rate,
    ThemeCount,
    TherapistSummary,
    WaitFigure,
)
from tailoring.model.measures import WaitId, WaitStandard
from tailoring.model.report import SEVERITIES, FitReport, SessionSummary, Severity
from tailoring.model.session import Session, is_treatment_contact

NOT_ON_TRACK_FLAG = "session.not_on_track"
TREND_POINTS = 10.0
TREND_MIN_RATINGS = 3
THEMES: tuple[ThemeId, ...] = get_args(ThemeId)
FRAME_COLUMNS = (
    "reference",
    "therapist",
    "protocol_id",
    "protocol_name",
    "status",
    "sessions_available",
    "sessions_recorded",
    "sessions_attended",
    "treatment_sessions_attended",
    "last_session_date",
    "fit",
    "completeness",
    "flags_high",
    "flags_medium",
    "flags_low",
    "open_flags",
    "alliance_latest",
    "alliance_trend",
    "outcome",
    "caseness_at_start",
    "finished",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
    "dropped_after_first",
    "wait_first_appointment",
    "wait_first_treatment",
    "wait_second_treatment",
)
# The columns each aggregate reads: a frame built elsewhere (e.g. from stored figures) needs
# only these, not every column of FRAME_COLUMNS.
RATE_COLUMNS = (
    "treatment_sessions_attended",
    "finished",
    "caseness_at_start",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
    "dropped_after_first",
)
FLAG_COLUMNS = ("flags_high", "flags_medium", "flags_low", "open_flags")
SUMMARY_COLUMNS = ("therapist", "fit", *FLAG_COLUMNS, *RATE_COLUMNS)
Caseload = pd.DataFrame | Sequence[CaseMetrics]


# One case ---------------------------------------------------------------------------------------


def alliance_trend(scores: Sequence[float]) -> AllianceTrend:
    """The trend of the last two scores (oldest first), by the rule in the module docstring."""
    if len(scores) < 2:
        return "none"
    change = round(scores[-1] - scores[-2], 1)
    if change >= TREND_POINTS:
        return "up"
    if change <= -TREND_POINTS:
        return "down"
    return "steady"


def alliance_figures(
    report: FitReport, min_ratings: int = TREND_MIN_RATINGS
) -> tuple[float | None, AllianceTrend]:
    """The latest alliance score and its trend, by the rule in the module docstring."""
    rated = [
        s.alliance.score
        for s in sorted(report.sessions, key=lambda s: s.number)
        if s.alliance is not None
        and s.alliance.score is not None
        and s.alliance.answered >= min_ratings
    ]
    return (rated[-1] if rated else report.alliance.score), alliance_trend(rated)


def case_outcome(report: FitReport) -> CaseOutcome:
    """The one outcome word of a case, by the precedence in the module docstring."""
    outcomes = report.outcomes
    if not report.sessions or outcomes is None:
        return "no_data"
    if outcomes.reliable_deterioration == "yes":
        return "deterioration"
    if any(f.id == NOT_ON_TRACK_FLAG for f in report.flags):
        return "not_on_track"
    if outcomes.recovery == "yes" or outcomes.reliable_recovery == "yes":
        return "recovered"
    if outcomes.reliable_improvement == "yes":
        return "reliable_improvement"
    return "in_progress"


def dropped_after_first(sessions: Sequence[Session | SessionSummary]) -> bool:
    """Exactly one attended treatment session and nothing attended after it."""
    ordered = sorted(sessions, key=lambda s: s.number)
    treatment = [s for s in ordered if is_treatment_contact(s.kind, s.attendance)]
    if len(treatment) != 1:
        return False
    first = treatment[0].number
    return all(s.attendance != "attended" for s in ordered if s.number > first)


def case_waits(case: Case) -> dict[WaitId, int | None]:
    """Days of each wait of WAIT_IDS (content/waits.yaml says which is which); None while it
    has not ended, when the referral date is not recorded, or when the dates run backwards."""
    attended = [s for s in case.sessions if s.attendance == "attended"]
    appointments = [s.date for s in attended if s.kind != "follow_up"]
    treatment = [s.date for s in attended if s.treatment_contact]

    def days(start: datetime.date | None, end: datetime.date | None) -> int | None:
        if start is None or end is None or end < start:
            return None
        return (end - start).days

    referral = case.referral_date
    return {
        "first_appointment": days(referral, appointments[0] if appointments else None),
        "first_treatment": days(referral, treatment[0] if treatment else None),
        "second_treatment": days(*treatment[:2]) if len(treatment) >= 2 else None,
    }


def case_metrics(
    report: FitReport, case: Case, min_ratings: int = TREND_MIN_RATINGS
) -> CaseMetrics:
    """The caseload row of a case from its fit report; ValueError if they are not the same case.

    ``min_ratings`` is the number of alliance items a session needs for its score to count in
    the trend (pass ``content.tracking.alliance_min_ratings`` to follow a service's rules).
    """
    if report.case_reference != case.reference:
        raise ValueError(
            f"the report is of {report.case_reference!r}, the case is {case.reference!r}"
        )
    alliance_latest, trend = alliance_figures(report, min_ratings)
    outcomes = report.outcomes
    treatment = sum(s.treatment_contact for s in case.sessions)

    def yes(name: str) -> bool:
        return outcomes is not None and getattr(outcomes, name) == "yes"

    at_start = None if outcomes is None else outcomes.caseness_at_start
    return CaseMetrics(
        reference=case.reference,
        therapist=case.therapist,
        protocol_id=report.protocol_id,
        protocol_name=report.protocol_name,
        status=case.status,
        sessions_available=case.sessions_available,
        sessions_recorded=len(case.sessions),
        sessions_attended=sum(s.attendance == "attended" for s in case.sessions),
        treatment_sessions_attended=treatment,
        last_session_date=max((s.date for s in case.sessions), default=None),
        fit=report.overall_fit,
        completeness=report.completeness.percent,
        flags_by_severity={
            severity: sum(f.severity == severity for f in report.flags) for severity in SEVERITIES
        },
        open_flags=[
            OpenFlag(
                id=f.id,
                severity=f.severity,
                theme=f.theme,
                theme_title=f.theme_title,
                title=f.title,
            )
            for f in report.flags
        ],
        alliance_latest=alliance_latest,
        alliance_trend=trend,
        outcome=case_outcome(report),
        caseness_at_start={"yes": True, "no": False}.get(at_start or ""),
        finished=outcomes is not None and outcomes.finished,
        recovery=yes("recovery"),
        reliable_recovery=yes("reliable_recovery"),
        reliable_improvement=yes("reliable_improvement"),
        deterioration=yes("reliable_deterioration"),
        not_on_track=any(f.id == NOT_ON_TRACK_FLAG for f in report.flags),
        # Like a finished course, a drop-out is counted only once the referral has ended.
        dropped_after_first=case.ended and dropped_after_first(case.sessions),
        **{f"wait_{wait}": days for wait, days in case_waits(case).items()},
    )


# Many cases -------------------------------------------------------------------------------------


def caseload_frame(metrics: Iterable[CaseMetrics]) -> pd.DataFrame:
    """One row per case with FRAME_COLUMNS: the input of every aggregate below.

    A frame built another way needs only the columns an aggregate reads: RATE_COLUMNS for the
    rates and the funnel, FLAG_COLUMNS for flags, SUMMARY_COLUMNS for the per-therapist figures.

    ``fit`` and ``alliance_latest`` are floats (NaN when there is none); ``open_flags`` holds
    each case's open flags as dicts with ``severity``, ``theme`` and ``theme_title``.
    """
    rows = []
    for m in metrics:
        row = m.model_dump(exclude={"flags_by_severity", "open_flags"})
        for severity in SEVERITIES:
            row[f"flags_{severity}"] = m.flags_by_severity.get(severity, 0)
        row["open_flags"] = [f.model_dump() for f in m.open_flags]
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frame["fit"] = pd.to_numeric(frame["fit"], errors="coerce").astype(float)
    frame["alliance_latest"] = pd.to_numeric(frame["alliance_latest"], errors="coerce")
    return frame


def _frame(rows: Caseload, needs: Sequence[str]) -> pd.DataFrame:
    """The rows as a frame; ValueError naming the columns a frame lacks."""
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in needs if c not in rows.columns]
        if missing:
            raise ValueError(f"caseload frame lacks columns: {', '.join(missing)}")
        return rows
    return caseload_frame(rows)


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A yes/no column as booleans; anything but True (None, NaN, False) is no."""
    flags: np.ndarray = frame[column].to_numpy(dtype=object) == True  # noqa: E712 (None must count as no)
    return flags


def fit_distribution(fits: Iterable[float | None] | pd.Series, width: int = 10) -> FitDistribution:
    """Cases per band of fit: [0, width), [width, 2·width) … with 100 in the last band.

    Labels read "0–10", "10–20" …: a band holds its lower bound, not its upper (but 100).

    Fits are 0–100; None or NaN (too few answers, or a contraindicated plan) are unscored.
    """
    if width <= 0 or 100 % width:
        raise ValueError(f"width must divide 100, got {width}")
    values = pd.to_numeric(pd.Series(fits, dtype=object), errors="coerce").to_numpy(dtype=float)
    scored = values[~np.isnan(values)]
    if scored.size and (scored.min() < 0 or scored.max() > 100):
        raise ValueError("fits must lie in 0–100")
    n_bins = 100 // width
    index = np.minimum((scored // width).astype(int), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    bins = [
        FitBin(
            low=float(i * width),
            high=float((i + 1) * width),
            label=f"{i * width}–{(i + 1) * width}",
            count=int(counts[i]),
        )
        for i in range(n_bins)
    ]
    if not scored.size:
        return FitDistribution(bins=bins, scored=0, unscored=int(values.size), median=None)
    q1, median, q3 = (float(q) for q in np.percentile(scored, [25, 50, 75]))
    # Tukey's whiskers: to the furthest fit within 1.5 interquartile ranges of the box, or to
    # the box's own edge when every fit on that side lies beyond (e.g. 0, 0, 0, 1: q3 is 0.25).
    reach = 1.5 * (q3 - q1)
    return FitDistribution(
        bins=bins,
        scored=int(scored.size),
        unscored=int(values.size - scored.size),
        median=median,
        q1=q1,
        q3=q3,
        lower_fence=min(q1, float(scored[scored >= q1 - reach].min())),
        upper_fence=max(q3, float(scored[scored <= q3 + reach].max())),
    )


def _field(flag: Any, name: str) -> Any:
    """A field of an open flag: a dict from caseload_frame, or an object with the same
    attributes (e.g. the flags storage keeps)."""
    # dict first: the abstract Mapping check costs ten times as much, a million times over.
    if isinstance(flag, (dict, Mapping)):  # checked in this order
        return flag.get(name)
    return getattr(flag, name, None)


def flags_by_severity(rows: Caseload) -> dict[Severity, int]:
    frame = _frame(rows, FLAG_COLUMNS)
    return {s: int(frame[f"flags_{s}"].sum()) for s in SEVERITIES}


def flags_by_theme(rows: Caseload, titles: Mapping[str, str] | None = None) -> list[ThemeCount]:
    """Open flags per study theme, every theme listed (in ThemeId's order), even at zero.

    ``titles`` maps theme ids to titles; otherwise the titles the flags carry are used.
    """
    frame = _frame(rows, FLAG_COLUMNS)
    names = dict(titles or {})
    counts = {t: dict.fromkeys(SEVERITIES, 0) for t in THEMES}
    cases = dict.fromkeys(THEMES, 0)
    # Cases with the same flags often share one list (services.caseload_figures parses each
    # stored text once): each list is tallied once and weighted by how many cases hold it, 3.4 s
    # instead of 7 on 100,000 cases with a profiler on.
    held = frame["open_flags"].tolist()
    holders = Counter(map(id, held))
    for key, flags in {id(flags): flags for flags in held}.items():
        weight = holders[key]
        seen = set()
        for flag in flags:
            theme = _field(flag, "theme")
            counts[theme][_field(flag, "severity")] += weight
            if title := _field(flag, "theme_title"):
                names.setdefault(theme, title)
            seen.add(theme)
        for theme in seen:
            cases[theme] += weight
    total = len(frame)
    return [
        ThemeCount(
            theme=theme,
            title=names.get(theme, theme.replace("_", " ").capitalize()),
            flags=sum(counts[theme].values()),
            by_severity=counts[theme],
            cases=Rate.of_counts(cases[theme], total, "cases"),
        )
        for theme in THEMES
    ]


def _stages(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The nested groups every rate is a share of, as boolean masks."""
    started = frame["treatment_sessions_attended"].to_numpy(dtype=int) >= 1
    finished = _flag(frame, "finished") & started
    return {
        "started": started,
        "finished": finished,
        "at_caseness": finished & _flag(frame, "caseness_at_start"),
    }


def outcome_rates(rows: Caseload) -> OutcomeRates:
    """Recovery, improvement, deterioration and drop-out, each over its documented denominator."""
    frame = _frame(rows, RATE_COLUMNS)
    g = _stages(frame)
    started, finished, at_caseness = g["started"], g["finished"], g["at_caseness"]

    def rate(column: str, among: np.ndarray, of: str) -> Rate:
        return Rate.of_counts(int((_flag(frame, column) & among).sum()), int(among.sum()), of)

    return OutcomeRates(
        cases=len(frame),
        started=int(started.sum()),
        finished=int(finished.sum()),
        finished_at_caseness=int(at_caseness.sum()),
        reliable_improvement=rate("reliable_improvement", finished, "finished courses"),
        recovery=rate("recovery", at_caseness, "finished courses at caseness"),
        reliable_recovery=rate("reliable_recovery", at_caseness, "finished courses at caseness"),
        deterioration=rate("deterioration", finished, "finished courses"),
        not_on_track=rate("not_on_track", finished, "finished courses"),
        completion=Rate.of_counts(int(finished.sum()), int(started.sum()), "cases that started"),
        dropout_after_first=rate("dropped_after_first", started, "cases that started"),
    )


def funnel(rows: Caseload) -> list[FunnelStage]:
    """Cases → started → finished → recovered, each with its rate and its share of all cases."""
    frame = _frame(rows, RATE_COLUMNS)
    g = _stages(frame)
    total = len(frame)
    started = int(g["started"].sum())
    finished = int(g["finished"].sum())
    at_caseness = int(g["at_caseness"].sum())
    recovered = int((_flag(frame, "recovery") & g["at_caseness"]).sum())

    def stage(stage_id: FunnelStageId, label: str, count: int, rate: Rate | None) -> FunnelStage:
        return FunnelStage(
            id=stage_id,
            label=label,
            count=count,
            rate=rate,
            of_all=Rate.of_counts(count, total, "all cases"),
        )

    return [
        stage("cases", "Cases", total, None),
        stage(
            "started",
            "Started treatment (1+ treatment session attended)",
            started,
            Rate.of_counts(started, total, "cases"),
        ),
        stage(
            "finished",
            "Finished a course (ended after 2+ treatment appointments)",
            finished,
            Rate.of_counts(finished, started, "cases that started"),
        ),
        stage(
            "recovered",
            "Recovered",
            recovered,
            Rate.of_counts(recovered, at_caseness, "finished courses at caseness"),
        ),
    ]


def by_therapist(rows: Caseload, titles: Mapping[str, str] | None = None) -> list[TherapistSummary]:
    """The caseload's figures per therapist, in name order; small caseloads are marked small."""
    frame = _frame(rows, SUMMARY_COLUMNS)
    summaries = []
    for therapist, group in frame.groupby("therapist", sort=True):
        summaries.append(
            TherapistSummary(
                therapist=str(therapist),
                cases=len(group),
                small=len(group) < SMALL_DENOMINATOR,
                fit=fit_distribution(group["fit"]),
                flags_by_severity=flags_by_severity(group),
                flags_by_theme=flags_by_theme(group, titles),
                rates=outcome_rates(group),
                funnel=funnel(group),
            )
        )
    return summaries


def wait_figures(rows: Caseload, standards: Sequence[WaitStandard]) -> list[WaitFigure]:
    """How many cases met each waiting-time standard, of those whose wait is known; a small
    number (under SMALL_DENOMINATOR) is a count, with no verdict on the target."""
    frame = _frame(rows, [f"wait_{s.wait}" for s in standards])
    figures = []
    for standard in standards:
        days = pd.to_numeric(frame[f"wait_{standard.wait}"], errors="coerce").to_numpy(float)
        known = days[~np.isnan(days)]
        met = Rate.of_counts(
            int((known <= standard.within_days).sum()), int(known.size), "cases with the wait known"
        )
        figures.append(
            WaitFigure(
                standard=standard,
                met=met,
                median_days=float(np.median(known)) if known.size else None,
                meets_target=None if met.value is None else met.value >= standard.target,
            )
        )
    return figures


def caseload_summary(
    rows: Caseload,
    titles: Mapping[str, str] | None = None,
    standards: Sequence[WaitStandard] = (),
) -> CaseloadSummary:
    """Every chart of the caseload page, for all cases and per therapist."""
    frame = _frame(rows, SUMMARY_COLUMNS)
    high = int((frame["flags_high"].to_numpy() > 0).sum())
    return CaseloadSummary(
        cases=len(frame),
        fit=fit_distribution(frame["fit"]),
        flags_by_severity=flags_by_severity(frame),
        high_flag_cases=Rate.of_counts(high, len(frame), "cases"),
        flags_by_theme=flags_by_theme(frame, titles),
        rates=outcome_rates(frame),
        funnel=funnel(frame),
        therapists=by_therapist(frame, titles),
        waits=wait_figures(frame, standards) if standards else [],
    )


def filter_caseload(
    frame: pd.DataFrame,
    reference: str = "",
    therapists: Sequence[str] = (),
    outcomes: Sequence[str] = (),
    high_flags_only: bool = False,
    *,
    protocols: Sequence[str] = (),
    trends: Sequence[str] = (),
    fit_below: float | None = None,
) -> pd.DataFrame:
    """The rows matching every filter given: part of a reference, therapists, outcome words...

    ``outcomes`` holds outcome ids; ``not_on_track`` also matches a case whose outcome word is
    another (reliable deterioration comes first) while it is not on track. ``protocols`` holds
    protocol ids, ``trends`` alliance trends; ``fit_below`` keeps cases with a fit under it.
    When every row matches, the frame itself comes back: treat the result as read-only.
    """
    keep = np.ones(len(frame), dtype=bool)
    if reference.strip():
        keep &= frame["reference"].str.contains(reference.strip(), case=False, regex=False)
    if therapists:
        keep &= frame["therapist"].isin(list(therapists)).to_numpy()
    if outcomes:
        matches = frame["outcome"].isin(list(outcomes)).to_numpy(copy=True)
        if "not_on_track" in outcomes and "not_on_track" in frame:
            matches |= frame["not_on_track"].fillna(False).astype(bool).to_numpy()
        keep &= matches
    if high_flags_only:
        keep &= frame["flags_high"].to_numpy() > 0
    if protocols:
        keep &= frame["protocol_id"].isin(list(protocols)).to_numpy()
    if trends:
        keep &= frame["alliance_trend"].isin(list(trends)).to_numpy()
    if fit_below is not None:
        keep &= (frame["fit"] < fit_below).fillna(False).to_numpy()
    if keep.all():
        return frame  # no filter set: the frame itself, not a copy of 100,000 rows
    return frame[keep].reset_index(drop=True)
