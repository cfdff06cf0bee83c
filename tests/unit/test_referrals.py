"""A case's referral and ending: what the case says alone, and what it must agree with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tailoring.model.case import referral_problems
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
