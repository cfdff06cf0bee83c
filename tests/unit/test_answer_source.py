"""Which answers the fit uses, and whose answer each item is."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from tailoring.content import library
from tailoring.engine.answer_source import SOURCES, merge
from tailoring.engine.assess import assess
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.patient_questionnaires import PatientAnswers, as_answers
from tests.strategies import answers as drawn_answers

CONTENT = library()


def answers(**sections: Any) -> Answers:
    return Answers.model_validate(sections)


THERAPIST = answers(
    preferences={
        "structure": {"value": 1, "importance": 3},
        "focus": {"value": 2, "importance": 1},
        "pace": {"value": None, "importance": 2},
    },
    social={
        "access": {"present": "yes", "maintains": "no", "helping": "no", "details": ["hours"]},
        "housing": {"present": "yes", "maintains": "yes", "details": ["damp_mould"]},
    },
    alliance={"bond": {"value": 4}, "heard": {"value": 3}},
)
PATIENT = as_answers(
    CONTENT,
    PatientAnswers.model_validate(
        {
            "preferences": {
                "structure": {"value": 5, "importance": 2},
                "pace": {"value": 4, "importance": None},
                "practice": {"value": None, "importance": 3},
            },
            "barriers": {"childcare": ["childcare"], "travel": ["cost"]},
            "alliance": {"bond": {"value": 1}, "heard": {"value": None}},
        }
    ),
)


def test_the_therapists_answers() -> None:
    merged, sources = merge(THERAPIST, PATIENT, "therapist")
    assert merged == THERAPIST
    assert set(sources.values()) == {"therapist"}
    assert ("preferences", "structure") in sources


def test_the_patients_answers_only() -> None:
    merged, sources = merge(THERAPIST, PATIENT, "patient")
    assert merged == PATIENT
    assert "focus" not in merged.preferences
    assert "housing" not in merged.social
    assert set(sources.values()) == {"patient"}


def test_the_patients_answers_where_present() -> None:
    merged, sources = merge(THERAPIST, PATIENT, "patient_where_present")
    assert merged.preferences["structure"].value == 5
    assert merged.preferences["pace"].value == 4
    # A value is what makes an answer present: an importance alone is not.
    assert merged.preferences["focus"].value == 2
    assert "practice" not in merged.preferences
    assert merged.alliance["bond"].value == 1
    assert merged.alliance["heard"].value == 3
    access = merged.social["access"]
    assert (access.present, access.maintains, access.details) == (
        "yes",
        "no",
        ["hours", "childcare"],
    )
    assert merged.social["money"].details == ["travel_costs"]
    assert merged.social["housing"] == THERAPIST.social["housing"]
    assert sources == {
        ("preferences", "structure"): "patient",
        ("preferences", "focus"): "therapist",
        ("preferences", "pace"): "patient",
        ("social", "access"): "patient",
        ("social", "housing"): "therapist",
        ("social", "money"): "patient",
        ("alliance", "bond"): "patient",
        ("alliance", "heard"): "therapist",
    }


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source must be one of"):
        merge(THERAPIST, PATIENT, "supervisor")  # type: ignore[arg-type]


def test_the_fit_runs_on_the_merged_answers_and_names_each_dimensions_source() -> None:
    case = Case(
        reference="SRC-1", protocol_id="psychoed_group", sessions_available=6, answers=THERAPIST
    )
    assert {f.id for f in assess(CONTENT, case).flags if f.hard} == {"demand.access.hours"}
    merged, sources = merge(THERAPIST, PATIENT, "patient_where_present")
    report = assess(CONTENT, case.model_copy(update={"answers": merged}))
    by_dimension = {
        d.item_id: sources[("preferences", d.item_id)]
        for d in report.dimensions
        if d.status != "unanswered"
    }
    assert by_dimension == {"structure": "patient", "focus": "therapist", "pace": "patient"}
    # The patient's own barriers (no childcare, the fare) meet the group's demands.
    hard = {f.id for f in report.flags if f.hard}
    assert hard == {
        "demand.access.hours",
        "demand.access.childcare",
        "demand.money.travel_costs",
    }


@settings(max_examples=100, deadline=None)
@given(drawn_answers(CONTENT), drawn_answers(CONTENT))
def test_every_source_names_exactly_the_items_it_returns(first: dict, second: dict) -> None:
    ours, theirs = Answers.model_validate(first), Answers.model_validate(second)
    for source in SOURCES:
        merged, sources = merge(ours, theirs, source)
        returned = {
            (section, item_id)
            for section in ("preferences", "social", "alliance")
            for item_id in getattr(merged, section)
        }
        assert set(sources) == returned
    merged, _ = merge(ours, theirs, "patient_where_present")
    assert merge(ours, Answers(), "patient_where_present")[0] == ours
    for item_id, answer in theirs.preferences.items():
        if answer.value not in (None, []):
            assert merged.preferences[item_id] == answer
