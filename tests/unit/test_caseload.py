"""Caseload metrics per case and the aggregates over many: rules, denominators, small numbers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import get_args

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tailoring.engine.assess import assess
from tailoring.engine.caseload import (
    FRAME_COLUMNS,
    THEMES,
    alliance_trend,
    by_therapist,
    case_metrics,
    caseload_frame,
    caseload_summary,
    dropped_after_first,
    fit_distribution,
    flags_by_theme,
    funnel,
    outcome_rates,
)
from tailoring.model.case import Case
from tailoring.model.caseload import (
    CASE_OUTCOMES,
    OUTCOME_WORDS,
    SMALL_DENOMINATOR,
    CaseMetrics,
    CaseOutcome,
    OpenFlag,
    Rate,
)
from tailoring.model.session import Session
from tests.session_factory import case_with_sessions, random_cases_with_sessions, session

GOOD = {"goals_agreement": 4, "task_agreement": 4, "bond": 4, "heard": 4, "individual": 4}


def metrics_of(content, sessions, ending: str | None = None, **answers) -> CaseMetrics:
    case = case_with_sessions(content, sessions, ending=ending, **answers)
    return case_metrics(assess(content, case), case)


def treatment(content, number: int, phq9: int, gad7: int, **kwargs) -> dict:
    return session(content, number, phq9=phq9, anxiety=gad7, **kwargs)


# Alliance trend ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "trend"),
    [
        ([], "none"),
        ([70.0], "none"),
        ([50.0, 60.0], "up"),
        ([60.0, 50.0], "down"),
        ([50.0, 59.9], "steady"),
        ([59.9, 50.0], "steady"),
        ([10.0, 90.0, 95.0], "steady"),
        ([90.0, 10.0, 20.0], "up"),
    ],
)
def test_trend_compares_the_last_two_scores_by_ten_points(scores, trend) -> None:
    assert alliance_trend(scores) == trend


def test_trend_reads_the_last_two_sessions_rated_on_three_items_or_more(content) -> None:
    sessions = [
        treatment(content, 1, 12, 9, alliance=GOOD),
        treatment(content, 2, 12, 9, alliance={**GOOD, "individual": 2}),
        # Two ratings only: too few for the trend, so session 2 stays the latest.
        treatment(content, 3, 12, 9, alliance={"bond": 0, "heard": 0}),
    ]

    m = metrics_of(content, sessions)

    assert m.alliance_trend == "down"  # 100 → 90, exactly ten points
    assert m.alliance_latest == 90.0


def test_without_session_ratings_the_latest_alliance_is_the_walk_through_check(content) -> None:
    m = metrics_of(
        content,
        [treatment(content, 1, 12, 9)],
        alliance={k: {"value": 2} for k in GOOD},
    )

    assert m.alliance_latest == 50.0
    assert m.alliance_trend == "none"


# Outcome word -----------------------------------------------------------------------------------


def test_no_sessions_is_no_data(content) -> None:
    m = metrics_of(content, [])

    assert m.outcome == "no_data"
    assert (m.sessions_recorded, m.sessions_attended, m.treatment_sessions_attended) == (0, 0, 0)
    assert m.last_session_date is None
    assert not m.finished and not m.dropped_after_first
    assert m.caseness_at_start is None


def test_deterioration_comes_before_everything(content) -> None:
    m = metrics_of(content, [treatment(content, 1, 10, 5), treatment(content, 2, 17, 5)])

    assert m.deterioration and m.not_on_track  # the flag is raised too; the word is one
    assert m.outcome == "deterioration"


def test_not_on_track_comes_before_recovery(content) -> None:
    # At caseness on both with no reliable change after 4 sessions (the fixed rule): not on
    # track; once below caseness on both (recovery) it is never not on track (issue 16).
    content = content.model_copy(update={"expected_change": None})
    sessions = [treatment(content, n, 11, 8) for n in (1, 2, 3, 4)]
    stuck = metrics_of(content, sessions)
    assert stuck.not_on_track and stuck.outcome == "not_on_track"

    recovered = metrics_of(content, [*sessions[:3], treatment(content, 4, 8, 6)])
    assert recovered.recovery and not recovered.reliable_improvement
    assert not recovered.not_on_track and recovered.outcome == "recovered"


def test_recovery_comes_before_reliable_improvement(content) -> None:
    sessions = [treatment(content, 1, 15, 10), treatment(content, 2, 5, 3)]
    m = metrics_of(content, sessions, ending="completed")

    assert m.recovery and m.reliable_recovery and m.reliable_improvement
    assert m.outcome == "recovered"
    assert m.caseness_at_start is True and m.finished
    assert not metrics_of(content, sessions).finished, "an open case has not finished"


def test_reliable_improvement_without_recovery(content) -> None:
    m = metrics_of(content, [treatment(content, 1, 20, 15), treatment(content, 2, 13, 12)])

    assert m.reliable_improvement and not m.recovery
    assert m.outcome == "reliable_improvement"


def test_sessions_without_an_outcome_yet_are_in_progress(content) -> None:
    m = metrics_of(content, [treatment(content, 1, 15, 10)])

    assert m.outcome == "in_progress"


# Drop-out after the first session ---------------------------------------------------------------


def _session(number: int, attendance: str, kind: str = "treatment") -> Session:
    return Session(
        number=number,
        date=datetime.date(2026, 1, 1) + datetime.timedelta(weeks=number),
        attendance=attendance,
        kind=kind,
    )


@pytest.mark.parametrize(
    ("sessions", "dropped"),
    [
        ([], False),
        ([("attended", "assessment")], False),
        ([("attended", "assessment"), ("attended", "treatment")], True),
        (
            [
                ("attended", "assessment"),
                ("attended", "treatment"),
                ("did_not_attend", "treatment"),
                ("cancelled", "treatment"),
            ],
            True,
        ),
        ([("did_not_attend", "treatment"), ("attended", "treatment")], True),
        ([("attended", "treatment"), ("attended", "follow_up")], False),
        (
            [("attended", "treatment"), ("did_not_attend", "treatment"), ("attended", "treatment")],
            False,
        ),
        ([("attended", "assessment"), ("did_not_attend", "treatment")], False),
    ],
)
def test_dropped_after_first_means_one_attended_treatment_then_nothing(sessions, dropped) -> None:
    records = [_session(n, a, k) for n, (a, k) in enumerate(sessions, start=1)]

    assert dropped_after_first(records) is dropped
    assert dropped_after_first(list(reversed(records))) is dropped


def test_metrics_count_sessions_and_their_last_date(content) -> None:
    sessions = [
        session(content, 1, phq9=14, anxiety=9, kind="assessment"),
        treatment(content, 2, 14, 9),
        session(content, 3, attendance="did_not_attend"),
    ]

    m = metrics_of(content, sessions)

    assert (m.sessions_recorded, m.sessions_attended, m.treatment_sessions_attended) == (3, 2, 1)
    assert m.last_session_date == datetime.date.fromisoformat(sessions[-1]["date"])
    assert not m.dropped_after_first  # still open: the person may come back
    assert metrics_of(content, sessions, ending="dropped_out").dropped_after_first


def test_metrics_carry_fit_flags_and_the_case_fields(content) -> None:
    case = Case.model_validate(
        {
            "reference": "SUP-0042",
            "therapist": "A. Okafor",
            "protocol_id": "gsh_cbt",
            "sessions_available": 6,
            "answers": {"preferences": {"focus": {"value": 5, "importance": 3}}},
        },
        context={"content": content},
    )
    report = assess(content, case)

    m = case_metrics(report, case)

    assert (m.reference, m.therapist, m.protocol_id) == ("SUP-0042", "A. Okafor", "gsh_cbt")
    assert m.fit == report.overall_fit
    assert m.completeness == report.completeness.percent
    assert sum(m.flags_by_severity.values()) == len(report.flags) == len(m.open_flags)
    assert [f.id for f in m.open_flags] == [f.id for f in report.flags]
    assert m.table_row()["high flags"] == m.flags_by_severity["high"]


def test_metrics_refuse_a_report_of_another_case(content, make_case) -> None:
    case = make_case()
    report = assess(content, case).model_copy(update={"case_reference": "OTHER-1"})

    with pytest.raises(ValueError, match="OTHER-1"):
        case_metrics(report, case)


# Rates ------------------------------------------------------------------------------------------


def test_a_small_denominator_has_no_rate_and_reads_n_of_d() -> None:
    small = Rate.of_counts(3, SMALL_DENOMINATOR - 1, "finished courses")

    assert small.small and small.value is None
    assert small.text() == f"3 of {SMALL_DENOMINATOR - 1}"
    assert "%" not in small.text()


def test_a_large_enough_denominator_is_a_percentage() -> None:
    rate = Rate.of_counts(5, SMALL_DENOMINATOR)

    assert not rate.small and rate.value == 0.5
    assert rate.text() == f"50% (5 of {SMALL_DENOMINATOR})"


def test_an_empty_denominator_is_small_and_has_no_value() -> None:
    assert Rate.of_counts(0, 0).text() == "0 of 0"
    assert Rate.of_counts(0, 0).value is None


def test_a_numerator_above_its_denominator_is_refused() -> None:
    with pytest.raises(ValidationError, match="above denominator"):
        Rate.of_counts(4, 3)


# Aggregates over invented rows ------------------------------------------------------------------


def row(**fields) -> CaseMetrics:
    """A caseload row with plain defaults: a case that has not started."""
    base = {
        "reference": "R-1",
        "therapist": "A. Okafor",
        "protocol_id": "gsh_cbt",
        "protocol_name": "Guided self-help",
        "status": "active",
        "sessions_available": 8,
        "sessions_recorded": 0,
        "sessions_attended": 0,
        "treatment_sessions_attended": 0,
        "fit": 70.0,
        "completeness": 100,
        "flags_by_severity": {"high": 0, "medium": 0, "low": 0},
        "open_flags": [],
        "alliance_trend": "none",
        "outcome": "no_data",
        "caseness_at_start": None,
        "finished": False,
        "recovery": False,
        "reliable_recovery": False,
        "reliable_improvement": False,
        "deterioration": False,
        "not_on_track": False,
        "dropped_after_first": False,
    }
    return CaseMetrics(**{**base, **fields})


def finished(recovered: bool = False, at_caseness: bool = True, **fields) -> CaseMetrics:
    return row(
        treatment_sessions_attended=6,
        finished=True,
        caseness_at_start=at_caseness,
        recovery=recovered,
        reliable_recovery=recovered,
        reliable_improvement=recovered,
        outcome="recovered" if recovered else "in_progress",
        **fields,
    )


@pytest.fixture
def caseload() -> list[CaseMetrics]:
    """40 cases: 10 never started, 10 after one session, 20 finished (16 at caseness, 8 of
    them recovered; 4 not at caseness, 2 of them deteriorated)."""
    rows = [row(reference=f"W-{i}") for i in range(10)]
    rows += [
        row(reference=f"D-{i}", treatment_sessions_attended=1, dropped_after_first=True)
        for i in range(10)
    ]
    rows += [finished(recovered=i < 8, reference=f"F-{i}") for i in range(16)]
    rows += [
        finished(at_caseness=False, deterioration=i < 2, not_on_track=i < 2, reference=f"N-{i}")
        for i in range(4)
    ]
    return rows


def test_outcome_rates_use_the_published_denominators(caseload) -> None:
    rates = outcome_rates(caseload)

    assert (rates.cases, rates.started, rates.finished, rates.finished_at_caseness) == (
        40,
        30,
        20,
        16,
    )
    assert (rates.recovery.numerator, rates.recovery.denominator) == (8, 16)
    assert rates.recovery.of == "finished courses at caseness"
    assert (rates.reliable_improvement.numerator, rates.reliable_improvement.denominator) == (8, 20)
    assert (rates.deterioration.numerator, rates.deterioration.denominator) == (2, 20)
    assert (rates.not_on_track.numerator, rates.not_on_track.denominator) == (2, 20)
    assert (rates.dropout_after_first.numerator, rates.dropout_after_first.denominator) == (10, 30)
    assert (rates.completion.numerator, rates.completion.denominator) == (20, 30)
    assert rates.recovery.value == 0.5


def test_the_funnel_narrows_and_shows_each_stage_of_all_cases(caseload) -> None:
    stages = funnel(caseload)

    assert [s.id for s in stages] == ["cases", "started", "finished", "recovered"]
    assert [s.count for s in stages] == [40, 30, 20, 8]
    assert stages[0].rate is None
    assert stages[1].rate.denominator == 40 and stages[2].rate.denominator == 30
    assert stages[3].rate.denominator == 16  # recovered among finished courses at caseness
    assert stages[3].of_all.text() == "20% (8 of 40)"


def test_by_therapist_marks_small_caseloads(caseload) -> None:
    others = [finished(recovered=True, reference=f"T-{i}", therapist="H. Tanaka") for i in range(3)]

    summaries = by_therapist(caseload + others)

    assert [s.therapist for s in summaries] == ["A. Okafor", "H. Tanaka"]
    okafor, tanaka = summaries
    assert okafor.cases == 40 and not okafor.small
    assert okafor.rates.recovery.text() == "50% (8 of 16)"
    assert tanaka.cases == 3 and tanaka.small
    assert tanaka.rates.recovery.small and tanaka.rates.recovery.value is None
    assert tanaka.rates.recovery.text() == "3 of 3"
    assert tanaka.funnel[-1].count == 3


def test_fit_distribution_bins_scores_and_counts_the_unscored() -> None:
    result = fit_distribution([0, 9.99, 10, 55.5, 100, None, float("nan")])

    assert [b.label for b in result.bins][:2] == ["0–10", "10–20"]
    assert [b.count for b in result.bins] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert (result.scored, result.unscored) == (5, 2)
    assert result.median == 10
    assert [b.count for b in fit_distribution([20, 40, 100], width=20).bins] == [0, 1, 1, 0, 1]


@pytest.mark.parametrize(("fits", "width"), [([101], 10), ([-1], 10), ([50], 15), ([50], 0)])
def test_fit_distribution_refuses_bad_input(fits, width) -> None:
    with pytest.raises(ValueError):
        fit_distribution(fits, width)


def test_fit_distribution_gives_a_box_plots_figures() -> None:
    # Quartiles of 10, 20, 30, 40, 95: 20 and 40; fences 1.5 IQR (30) out: 95 lies beyond.
    result = fit_distribution([40, 10, None, 95, 30, 20])

    assert (result.q1, result.median, result.q3) == (20, 30, 40)
    assert (result.lower_fence, result.upper_fence) == (10, 40)
    # Nothing within reach above the box: the whisker stops at its edge.
    edge = fit_distribution([0, 0, 0, 1])
    assert (edge.q3, edge.upper_fence) == (0.25, 0.25)


@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=60))
def test_box_figures_are_ordered_and_are_fits(fits: list[float]) -> None:
    result = fit_distribution(fits)

    assert result.lower_fence <= result.q1 <= result.median <= result.q3 <= result.upper_fence
    assert result.lower_fence in (*fits, result.q1) and result.upper_fence in (*fits, result.q3)


def test_fit_distribution_of_nothing() -> None:
    result = fit_distribution([])

    assert result.scored == 0 and result.median is None and result.q1 is None
    assert sum(b.count for b in result.bins) == 0


def _flag(theme: str, severity: str) -> OpenFlag:
    return OpenFlag(id=f"x.{theme}", severity=severity, theme=theme, theme_title=theme, title="x")


def test_flags_by_theme_counts_flags_and_cases_for_every_theme() -> None:
    rows = [
        row(reference="A-1", open_flags=[_flag("pace", "high"), _flag("pace", "low")]),
        row(reference="A-2", open_flags=[_flag("pace", "medium"), _flag("heard", "low")]),
        row(reference="A-3"),
    ]

    themes = {t.theme: t for t in flags_by_theme(rows, titles={"pace": "Time and pace"})}

    assert list(themes) == list(THEMES)
    assert themes["pace"].flags == 3
    assert themes["pace"].by_severity == {"high": 1, "medium": 1, "low": 1}
    assert themes["pace"].cases.text() == "2 of 3"
    assert themes["pace"].title == "Time and pace"
    assert themes["depth"].flags == 0 and themes["depth"].cases.numerator == 0


def test_cases_sharing_one_list_of_flags_are_each_counted() -> None:
    shared = [{"theme": "pace", "severity": "high"}, {"theme": "heard", "severity": "low"}]
    own = [{"theme": "pace", "severity": "low"}]
    frame = caseload_frame([row(reference=f"S-{i}") for i in range(4)])
    frame["open_flags"] = pd.Series([shared, shared, own, [dict(f) for f in shared]])

    themes = {t.theme: t for t in flags_by_theme(frame)}

    assert themes["pace"].by_severity == {"high": 3, "medium": 0, "low": 1}
    assert themes["pace"].cases.text() == "4 of 4"
    assert themes["heard"].flags == 3 and themes["heard"].cases.numerator == 3


def test_a_frame_and_a_list_of_metrics_give_the_same_summary(caseload) -> None:
    frame = caseload_frame(caseload)

    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert caseload_summary(frame) == caseload_summary(caseload)


def test_a_frame_missing_columns_is_refused(caseload) -> None:
    frame = caseload_frame(caseload).drop(columns=["finished"])

    with pytest.raises(ValueError, match="finished"):
        outcome_rates(frame)


def test_aggregates_work_on_plain_columns_of_100000_cases() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    attended = rng.integers(0, 12, n)
    finished_ = attended >= 2
    caseness = rng.random(n) < 0.8
    recovered = finished_ & caseness & (rng.random(n) < 0.5)
    frame = pd.DataFrame(
        {
            "therapist": rng.choice(["A", "B", "C"], n),
            "treatment_sessions_attended": attended,
            "finished": finished_,
            "caseness_at_start": caseness,
            "recovery": recovered,
            "reliable_recovery": recovered,
            "reliable_improvement": recovered,
            "deterioration": False,
            "not_on_track": False,
            "dropped_after_first": attended == 1,
            "fit": rng.uniform(0, 100, n),
            "open_flags": [[] for _ in range(n)],
            "flags_high": 0,
            "flags_medium": 0,
            "flags_low": 0,
        }
    )

    summary = caseload_summary(frame)

    assert summary.rates.recovery.numerator == int(recovered.sum())
    assert summary.rates.recovery.denominator == int((finished_ & caseness).sum())
    assert summary.funnel[1].count == int((attended >= 1).sum())
    assert sum(s.cases for s in summary.therapists) == n
    assert summary.fit.scored == n


def test_real_cases_give_consistent_rates(content) -> None:
    cases = random_cases_with_sessions(content, 60, seed=11)
    metrics = [case_metrics(assess(content, c), c) for c in cases]

    summary = caseload_summary(metrics)

    rates = summary.rates
    assert rates.finished <= rates.started <= rates.cases == 60
    for stage, before in zip(summary.funnel[1:], summary.funnel, strict=False):
        assert stage.count <= before.count
    assert sum(m.outcome == "no_data" for m in metrics) == sum(not c.sessions for c in cases)


def test_flags_may_be_objects_as_storage_keeps_them() -> None:
    @dataclass(frozen=True)
    class Stored:
        id: str
        severity: str
        theme: str

    frame = pd.DataFrame(
        {
            "flags_high": [1],
            "flags_medium": [0],
            "flags_low": [1],
            "open_flags": [[Stored("a", "high", "depth"), Stored("b", "low", "depth")]],
        }
    )

    depth = next(t for t in flags_by_theme(frame) if t.theme == "depth")

    assert depth.by_severity == {"high": 1, "medium": 0, "low": 1}
    assert depth.title == "Depth"  # no titles given or carried: the id, readable


def test_the_outcome_words_follow_the_precedence() -> None:
    assert get_args(CaseOutcome) == CASE_OUTCOMES
    assert tuple(OUTCOME_WORDS) == CASE_OUTCOMES


def test_filter_caseload_combines_every_filter():
    import pandas as pd

    from tailoring.engine.caseload import filter_caseload

    frame = pd.DataFrame(
        {
            "reference": ["TT-001", "TT-002", "XY-003"],
            "therapist": ["A. Okafor", "B. Singh", "A. Okafor"],
            "outcome": ["recovered", "not_on_track", "not_on_track"],
            "flags_high": [0, 2, 1],
        }
    )
    assert list(filter_caseload(frame, "tt")["reference"]) == ["TT-001", "TT-002"]
    assert list(filter_caseload(frame, therapists=["A. Okafor"])["reference"]) == [
        "TT-001",
        "XY-003",
    ]
    assert list(
        filter_caseload(frame, outcomes=["not_on_track"], high_flags_only=True)["reference"]
    ) == ["TT-002", "XY-003"]
    assert len(filter_caseload(frame, "nothing")) == 0


def test_filter_caseload_by_protocol_trend_fit_and_not_on_track_behind_another_outcome():
    import pandas as pd

    from tailoring.engine.caseload import filter_caseload

    frame = pd.DataFrame(
        {
            "reference": ["TT-001", "TT-002", "TT-003", "TT-004"],
            "therapist": ["A", "A", "B", "B"],
            "protocol_id": ["ba_step2", "cbt_depression", "ba_step2", "ipt"],
            "outcome": ["deterioration", "not_on_track", "recovered", "in_progress"],
            "not_on_track": [True, True, False, None],
            "alliance_trend": ["down", "steady", "up", "none"],
            "fit": [35.0, 80.0, None, 55.0],
            "flags_high": [1, 0, 0, 0],
        }
    )

    def refs(shown: pd.DataFrame) -> list[str]:
        return list(shown["reference"])

    # Deterioration is the outcome word of TT-001, but it is not on track as well.
    assert refs(filter_caseload(frame, outcomes=["not_on_track"])) == ["TT-001", "TT-002"]
    assert refs(filter_caseload(frame, outcomes=["deterioration"])) == ["TT-001"]
    assert refs(filter_caseload(frame, protocols=["ba_step2"])) == ["TT-001", "TT-003"]
    assert refs(filter_caseload(frame, trends=["down", "none"])) == ["TT-001", "TT-004"]
    # A case without a fit is not "below" any figure.
    assert refs(filter_caseload(frame, fit_below=60)) == ["TT-001", "TT-004"]
    assert refs(filter_caseload(frame, therapists=["B"], fit_below=60)) == ["TT-004"]
