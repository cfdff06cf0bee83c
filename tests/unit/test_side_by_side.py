"""The patient's answers beside the therapist's, item by item, in the words each saw."""

from __future__ import annotations

from typing import Any

from tailoring.content import library
from tailoring.engine.perception import side_by_side
from tailoring.model.answers import Answers
from tailoring.model.patient_questionnaires import PatientAnswers

CONTENT = library()


def rows(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[tuple[str, str], tuple]:
    compared = side_by_side(
        CONTENT, Answers.model_validate(ours), PatientAnswers.model_validate(theirs)
    )
    return {(c.section, c.item_id): (c.therapist, c.patient) for c in compared}


def test_items_either_answered_show_both_answers_in_their_own_words():
    shown = rows(
        {"preferences": {"structure": {"value": 1, "importance": 3}, "pace": {"value": 3}}},
        {"preferences": {"structure": {"value": 5, "importance": 2}, "focus": {"value": 1}}},
    )
    assert shown[("preferences", "structure")] == (
        "1 of 5: A clear structure and agenda every session (essential)",
        "5 of 5: Open: we follow what I bring (it matters a lot)",
    )
    assert shown[("preferences", "pace")][1] is None
    assert shown[("preferences", "focus")][0] is None
    assert ("preferences", "challenge") not in shown


def test_an_importance_alone_is_no_answer():
    assert rows({}, {"preferences": {"structure": {"value": None, "importance": 3}}}) == {}


def test_barriers_appear_under_their_social_domain_and_alliance_in_the_patients_words():
    shown = rows(
        {"social": {"access": {"present": "no"}}, "alliance": {"bond": {"value": 4}}},
        {"barriers": {"childcare": ["childcare"]}, "alliance": {"bond": {"value": 1}}},
    )
    ours, theirs = shown[("social", "access")]
    assert ours.startswith("present: no")
    assert "childcare" in theirs.lower()
    bond_ours, bond_theirs = shown[("alliance", "bond")]
    labels = CONTENT.patient.alliance_item("bond").labels
    assert (bond_ours, bond_theirs) == (CONTENT.alliance_item("bond").labels[4], labels[1])
    assert ("social", "housing") not in shown
