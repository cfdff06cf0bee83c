"""Not on track: never for a recovered or below-caseness patient; the expected-change boundary;
the fixed rule where no curve covers the start; every flag names its rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailoring.engine.flags import NOT_ON_TRACK, session_flags
from tailoring.engine.outcomes import case_outcomes
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import ExpectedChange
from tests.session_factory import case_with_sessions, session

# PHQ-9 curve for starts of 15–19: by the 2nd treatment appointment most were at 14 or below,
# three in four at 16 or below. Invented for the tests, as a service's command would write it.
CURVES = ExpectedChange.model_validate(
    {
        "source": "invented for tests",
        "computed_on": "2026-12-07",
        "percentile": 75,
        "min_cases": 20,
        "curves": [
            {
                "measure": "phq9",
                "start_min": 15,
                "start_max": 19,
                "label": "Moderately severe",
                "points": [
                    {"appointment": 1, "expected": 17, "boundary": 18, "cases": 40},
                    {"appointment": 2, "expected": 14, "boundary": 16, "cases": 38},
                ],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def with_curves(content: ContentLibrary) -> ContentLibrary:
    return content.model_copy(update={"expected_change": CURVES})


@pytest.fixture(scope="module")
def without_curves(content: ContentLibrary) -> ContentLibrary:
    return content.model_copy(update={"expected_change": None})


def course(content, *totals):
    sessions = [
        session(content, n, phq9=phq, anxiety=gad) for n, (phq, gad) in enumerate(totals, start=1)
    ]
    return case_with_sessions(content, sessions)


def not_on_track(content, case):
    return next((f for f in session_flags(content, case) if f.id == NOT_ON_TRACK), None)


totals = st.tuples(
    st.one_of(st.none(), st.integers(0, 27)), st.one_of(st.none(), st.integers(0, 21))
)


@settings(max_examples=300, deadline=None)
@given(courses=st.lists(totals, min_size=1, max_size=8), curves=st.booleans())
def test_a_recovered_or_below_caseness_patient_is_never_not_on_track(
    with_curves, without_curves, courses, curves
):
    content = with_curves if curves else without_curves
    case = course(content, *courses)
    outcomes = case_outcomes(content, case)
    if outcomes.caseness_at_start == "no" or outcomes.recovery == "yes":
        assert not_on_track(content, case) is None


def test_a_patient_who_started_below_caseness_and_rose_reliably_is_not_flagged(without_curves):
    case = course(without_curves, (9, 7), (15, 11))  # PHQ-9 9 and GAD-7 7: below both
    outcomes = case_outcomes(without_curves, case)
    assert outcomes.reliable_deterioration == "yes", "still counted as deterioration"
    assert not_on_track(without_curves, case) is None
    at_caseness = course(without_curves, (10, 7), (16, 7))
    flag = not_on_track(without_curves, at_caseness)
    assert flag is not None and "rule: reliable deterioration" in flag.title


@pytest.mark.parametrize(("second", "raised"), [(15, False), (16, False), (17, True)])
def test_the_boundary_is_crossed_only_above_it(with_curves, second, raised):
    flag = not_on_track(with_curves, course(with_curves, (16, 7), (second, 7)))
    assert (flag is not None) is raised
    if flag is not None:
        assert flag.severity == "medium"
        assert "rule: expected-change boundary" in flag.title
        [trigger] = [t for t in flag.triggers if "boundary" in t.question]
        assert "were at 14 by then; the boundary is 16" in trigger.answer
        assert "75th percentile of 38 finished courses; invented for tests" in trigger.answer


def test_with_a_curve_the_fixed_session_rule_gives_way(with_curves, without_curves):
    flat = [(16, 7)] * 4  # no reliable change after four sessions
    # The curve has no point for appointment 4: the boundary rule says nothing, so nothing.
    assert not_on_track(with_curves, course(with_curves, *flat)) is None
    fixed = not_on_track(without_curves, course(without_curves, *flat))
    assert fixed is not None and "rule: no reliable improvement after 4" in fixed.title


def test_where_no_curve_covers_the_start_the_fixed_rule_applies(with_curves):
    flat = [(24, 7)] * 4  # PHQ-9 24: severe, no curve for it
    flag = not_on_track(with_curves, course(with_curves, *flat))
    assert flag is not None and "rule: no reliable improvement after 4" in flag.title
