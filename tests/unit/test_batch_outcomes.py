"""The vectorised outcome status equals case_outcomes, case by case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tailoring.engine.batch_outcomes import (
    STATUSES,
    batch_outcomes,
    session_arrays,
    totals_from_items,
)
from tailoring.engine.outcomes import case_outcomes
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.services import demo_case_paths, parse_case_file
from tests.session_factory import content_with_adsm, random_cases_with_sessions


def assert_same(content: ContentLibrary, cases: list[Case], arrays=None) -> None:
    batch = batch_outcomes(content, arrays or session_arrays(content, cases))
    for index, case in enumerate(cases):
        expected = case_outcomes(content, case)
        got = {name: batch.status(name, index) for name in STATUSES}
        assert got == {name: getattr(expected, name) for name in STATUSES}, case.reference
        assert batch.finished[index] == expected.finished, case.reference
        assert batch.treatment_sessions_attended[index] == expected.treatment_sessions_attended


@pytest.fixture(scope="module")
def random_cases(content: ContentLibrary) -> list[Case]:
    return random_cases_with_sessions(content, 600, seed=20261127)


def test_random_cases_match_case_outcomes(content, random_cases):
    statuses = {case_outcomes(content, c).recovery for c in random_cases}
    assert statuses == {"yes", "no", "not_enough_data", "not_at_caseness"}, "the draw covers all"
    assert_same(content, random_cases)


def test_row_order_does_not_matter(content, random_cases):
    arrays = session_arrays(content, random_cases)
    order = np.random.default_rng(3).permutation(len(arrays.case))
    shuffled = replace(
        arrays,
        **{
            f: getattr(arrays, f)[order]
            for f in ("case", "number", "kind", "attendance", "depression", "anxiety")
        },
    )
    assert_same(content, random_cases, shuffled)


def test_each_case_keeps_its_own_anxiety_thresholds(tmp_path: Path):
    lib = content_with_adsm(tmp_path)
    cases = random_cases_with_sessions(lib, 300, seed=5, anxiety_measures=("gad7", "adsm"))
    assert {c.anxiety_measure for c in cases} == {"gad7", "adsm"}
    assert_same(lib, cases)


def test_demo_cases_match(content):
    assert_same(content, [parse_case_file(p.read_text()) for p in demo_case_paths()])


def test_cases_without_sessions(content, make_case):
    assert_same(content, [make_case(), make_case()])


def test_totals_from_items_leave_partial_measures_unscored():
    items = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]])
    totals = totals_from_items(items)
    assert totals[0] == 6 and np.isnan(totals[1])


def test_a_case_index_out_of_range_is_refused(content, random_cases):
    arrays = session_arrays(content, random_cases[:5])
    with pytest.raises(ValueError, match="case indices"):
        batch_outcomes(content, replace(arrays, case=arrays.case + 100))


def test_an_unknown_status_name_is_refused(content, random_cases):
    batch = batch_outcomes(content, session_arrays(content, random_cases[:2]))
    with pytest.raises(ValueError, match="unknown outcome status"):
        batch.status("cured", 0)
