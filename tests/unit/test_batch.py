"""Batch scoring gives exactly the overall fits of the per-case engine, for every protocol."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from tailoring.content import library
from tailoring.engine.assess import protocol_fit
from tailoring.engine.batch import case_matrix, overall_fits, protocol_matrix, round_1
from tailoring.engine.fit import HARD_MISMATCH_CAP
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.services import demo_case_paths, parse_case_file
from tests.case_factory import random_cases
from tests.strategies import cases

CONTENT = library()


def engine_fits(content: ContentLibrary, batch: list[Case]) -> np.ndarray:
    return np.array(
        [
            [
                np.nan if (f := protocol_fit(content, case, p).overall) is None else f
                for p in content.protocols
            ]
            for case in batch
        ]
    ).reshape(len(batch), len(content.protocols))


def batch_fits(content: ContentLibrary, batch: list[Case]) -> np.ndarray:
    return overall_fits(content, case_matrix(content, batch), protocol_matrix(content))


def assert_same_fits(content: ContentLibrary, batch: list[Case]) -> None:
    got, want = batch_fits(content, batch), engine_fits(content, batch)
    same = np.isclose(got, want, rtol=0, atol=1e-9, equal_nan=True)
    wrong = [
        f"{batch[n].reference} × {content.protocols[k].id}: batch {got[n, k]}, engine {want[n, k]}"
        for n, k in zip(*np.nonzero(~same), strict=True)
    ]
    assert not wrong, "\n".join(wrong[:20])


def test_every_demo_case_scores_as_the_engine_does(content):
    demos = [parse_case_file(path.read_text(encoding="utf-8")) for path in demo_case_paths()]
    assert demos
    assert_same_fits(content, demos)


def test_300_random_cases_score_as_the_engine_does(content):
    batch = random_cases(content, 300, seed=20261127)
    fits = engine_fits(content, batch)
    # The draw must reach the cases that matter: unscored, capped and in between.
    assert np.isnan(fits).any()
    assert (fits == HARD_MISMATCH_CAP).any()
    assert ((fits > HARD_MISMATCH_CAP) & (fits < 100)).any()
    assert_same_fits(content, batch)


@settings(max_examples=100, deadline=None)
@given(cases(CONTENT))
def test_any_valid_case_scores_as_the_engine_does(case: Case):
    assert_same_fits(CONTENT, [case])


def test_a_mean_on_a_false_tie_rounds_as_python_does(make_case, content):
    # CBT for depression: focus 2 is in range (100); structure 5 is two points beyond (33.3).
    # (100 + 33.3) / 2 is stored just above 66.65: Python rounds it to 66.7, np.round to 66.6.
    case = make_case(
        preferences={
            "focus": {"value": 2, "importance": 1},
            "structure": {"value": 5, "importance": 1},
        }
    )
    k = [p.id for p in content.protocols].index("cbt_depression")
    assert batch_fits(content, [case])[0, k] == 66.7
    assert_same_fits(content, [case])


def test_a_goal_repeated_in_a_case_file_is_refused_before_it_can_count_twice(make_case):
    with pytest.raises(ValueError, match="repeated"):
        make_case(
            preferences={"goals": {"value": ["skills", "skills", "understanding"], "importance": 2}}
        )


# "present: no" with a detail is refused as contradictory (tests/unit/test_indications.py).
@pytest.mark.parametrize("present", ["yes", "unsure", None])
def test_a_demand_caps_the_fit_only_when_the_circumstance_is_present(make_case, content, present):
    case = make_case(
        protocol_id="dcbt",
        preferences={"structure": {"value": 3, "importance": 3}},
        social={"access": {"present": present, "details": ["digital"]}},
    )
    fits = batch_fits(content, [case])
    capped = fits == HARD_MISMATCH_CAP
    assert capped.any() == (present == "yes")
    assert_same_fits(content, [case])


def test_unanswered_and_weightless_cases_have_no_fit(make_case, content):
    empty = make_case()
    weightless = make_case(preferences={"pace": {"value": 5, "importance": 0}})
    assert np.isnan(batch_fits(content, [empty, weightless])).all()


def test_no_cases_give_an_empty_table(content):
    assert batch_fits(content, []).shape == (0, len(content.protocols))


def test_a_case_not_checked_against_the_content_is_refused_by_name(content):
    unchecked = Case.model_validate(
        {
            "reference": "ODD-001",
            "protocol_id": "cbt_depression",
            "sessions_available": 8,
            "answers": {"preferences": {"goals": {"value": ["flying"]}}},
        }
    )
    with pytest.raises(ValueError, match=r"ODD-001.*'flying'"):
        case_matrix(content, [unchecked])


def test_matrices_built_on_other_content_are_refused(content):
    cm = case_matrix(content, random_cases(content, 3, seed=1))
    fewer = CONTENT.model_copy(update={"preferences": CONTENT.preferences[1:]})
    with pytest.raises(ValueError, match="columns"):
        overall_fits(fewer, cm, protocol_matrix(content))


def test_round_1_is_pythons_round():
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.uniform(0, 100, 20_000),
            np.arange(2_001) / 20,  # every decimal tie x.x5 up to 100
            np.arange(1_001) / 10,
            np.array([66.65, 2.675, 0.05, 0.15, 0.25, 33.333333333333336, np.nan]),
        ]
    )
    want = np.array([round(float(v), 1) for v in values])
    np.testing.assert_array_equal(round_1(values), want)
