"""A case's referral and ending: what the case says alone, what it must agree with, and the
waits it gives against the NHS standards."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from tailoring.engine.caseload import case_waits, wait_figures
from tailoring.model.case import referral_problems
from tailoring.model.measures import WaitStandard
from tests.session_factory import START, case_with_sessions, session


def with_fields(content, sessions, **fields):
    case = case_with_sessions(content, sessions)
    return case.model_validate({**case.model_dump(), **fields})


def test_an_ending_needs_both_a_date_and_a_reason(content):
    with pytest.raises(ValidationError, match="give both or neither"):
        with_fields(content, [], ending_date=START)
    with pytest.raises(ValidationError, match="give both or neither"):
        with_fields(content, [], ending_reason="completed")
    with pytest.raises(ValidationError, match="ending_reason"):
        with_fields(content, [], ending_date=START, ending_reason="cured")
    assert with_fields(content, [], ending_date=START, ending_reason="declined").ended


def test_an_ending_cannot_come_before_the_referral(content):
    with pytest.raises(ValidationError, match="before the referral"):
        with_fields(
            content,
            [],
            referral_date="2026-03-02",
            ending_date="2026-03-01",
            ending_reason="declined",
        )
    same_day = with_fields(
        content, [], referral_date=START, ending_date=START, ending_reason="declined"
    )
    assert same_day.ended


def test_the_referral_comes_before_the_first_session_and_the_ending_after_it(content):
    sessions = [session(content, 1), session(content, 2)]
    first = case_with_sessions(content, sessions).sessions[0].date
    on_the_day = with_fields(content, sessions, referral_date=first)
    assert referral_problems(on_the_day) == []
    late = with_fields(content, sessions, referral_date=first.replace(day=first.day + 1))
    assert referral_problems(late) == [
        f"referral_date: {late.referral_date} is after the first session ({first})"
    ]
    early_end = with_fields(
        content,
        sessions,
        ending_date=first.replace(day=first.day - 1),
        ending_reason="completed",
    )
    assert referral_problems(early_end) == [
        f"ending_date: {early_end.ending_date} is before the first session ({first})"
    ]


# Waits -----------------------------------------------------------------------------------------


def test_each_wait_runs_from_its_own_start_to_its_own_end(content):
    sessions = [
        session(content, 1, kind="assessment"),  # 2026-01-12
        session(content, 2, attendance="did_not_attend"),  # 2026-01-19: not attended
        session(content, 3, kind="follow_up"),  # 2026-01-26: a follow-up is no appointment here
        session(content, 4),  # 2026-02-02: treatment begins
        session(content, 6),  # 2026-02-16: the second treatment appointment
    ]
    case = with_fields(content, sessions, referral_date="2025-12-01")
    assert case_waits(case) == {
        "first_appointment": 42,
        "first_treatment": 63,
        "second_treatment": 14,
    }


def test_waits_are_unknown_without_a_referral_date_or_before_they_end(content):
    one = [session(content, 1, kind="assessment_and_treatment")]
    assert case_waits(with_fields(content, one)) == {
        "first_appointment": None,
        "first_treatment": None,
        "second_treatment": None,
    }
    dated = case_waits(with_fields(content, one, referral_date="2026-01-12"))
    assert dated == {"first_appointment": 0, "first_treatment": 0, "second_treatment": None}


def standard(within: int, target: float = 0.75) -> WaitStandard:
    return WaitStandard(
        id="w", label="W", wait="first_treatment", within_days=within, target=target, source="t"
    )


def test_a_standard_counts_waits_at_most_its_days_among_those_known():
    frame = pd.DataFrame({"wait_first_treatment": [42, 43, None, *[10] * 9]})
    [figure] = wait_figures(frame, [standard(42)])
    assert (figure.met.numerator, figure.met.denominator) == (10, 11)  # 42 meets, 43 does not
    assert figure.meets_target is True and figure.median_days == 10
    [strict] = wait_figures(frame, [standard(42, target=0.95)])
    assert strict.meets_target is False  # 10 of 11 is 91%


def test_a_small_number_of_waits_gets_no_verdict():
    frame = pd.DataFrame({"wait_first_treatment": [1, 2, 3]})
    [figure] = wait_figures(frame, [standard(42)])
    assert figure.met.small and figure.meets_target is None


def test_the_shipped_standards_are_the_nhs_ones(content):
    found = {(w.wait, w.within_days, w.target) for w in content.waits}
    assert found == {
        ("first_treatment", 42, 0.75),
        ("first_treatment", 126, 0.95),
        ("second_treatment", 90, 0.90),
    }
