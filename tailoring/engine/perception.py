"""The patient's answers beside the therapist's, each in the words its author saw.

The gaps between the two, raised as flags, are in engine/flags/patient.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tailoring.engine.describe import preference_value_text, social_trigger
from tailoring.engine.fit import is_answered
from tailoring.model.answers import Answers, PreferenceAnswer
from tailoring.model.case import Case
from tailoring.model.content import AllianceItem, ContentLibrary, PreferenceItem
from tailoring.model.patient_questionnaires import PatientAnswers, as_answers


def therapist_view(case: Case, session_number: int | None = None) -> Answers:
    """The therapist's answers to compare with a patient's: the case's, with the alliance check
    of session ``session_number`` instead of the walk-through's when that session has one."""
    if session_number is None:
        return case.answers
    session = next((s for s in case.sessions if s.number == session_number), None)
    if session is None or not session.alliance:
        return case.answers
    return case.answers.model_copy(update={"alliance": dict(session.alliance)})


class Comparison(BaseModel):
    """One item both could answer: the therapist's answer and the patient's, in words."""

    section: Literal["preferences", "social", "alliance"]
    item_id: str
    title: str
    therapist: str | None = None
    patient: str | None = None


def side_by_side(
    content: ContentLibrary, therapist: Answers, patient: PatientAnswers
) -> list[Comparison]:
    """Every item that either answered, in content order, with both answers in the words each
    saw. Social domains appear where the patient named a practical barrier of theirs."""
    rows = []
    for item in content.preferences:
        ours, theirs = therapist.preferences.get(item.id), patient.preferences.get(item.id)
        if is_answered(ours) or is_answered(theirs):
            rows.append(
                Comparison(
                    section="preferences",
                    item_id=item.id,
                    title=item.title,
                    therapist=preference_text(content, item, ours)
                    if ours and is_answered(ours)
                    else None,
                    patient=patient_preference_text(content, item, theirs)
                    if theirs and is_answered(theirs)
                    else None,
                )
            )
    named = as_answers(content, patient).social if content.patient is not None else {}
    for domain in content.social:
        if domain.id not in named:
            continue
        labels = {d.id: d.label for d in domain.details}
        ours_social = therapist.social.get(domain.id)
        rows.append(
            Comparison(
                section="social",
                item_id=domain.id,
                title=domain.title,
                therapist=social_trigger(domain, ours_social).answer if ours_social else None,
                patient="; ".join(labels[d] for d in named[domain.id].details),
            )
        )
    for a_item in content.alliance:
        mine, yours = therapist.alliance.get(a_item.id), patient.alliance.get(a_item.id)
        mine_value = mine.value if mine else None
        yours_value = yours.value if yours else None
        if mine_value is None and yours_value is None:
            continue
        rows.append(
            Comparison(
                section="alliance",
                item_id=a_item.id,
                title=a_item.title,
                therapist=None if mine_value is None else a_item.labels[mine_value],
                patient=None
                if yours_value is None
                else patient_alliance_label(content, a_item, yours_value),
            )
        )
    return rows


def chosen(answer: PreferenceAnswer) -> list[str]:
    """The options of a choice answer, or the several of a multi-choice one, as text."""
    value = answer.value
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def preference_text(content: ContentLibrary, item: PreferenceItem, answer: PreferenceAnswer) -> str:
    """A preference answer in the checklist's words, with how much it matters."""
    text = preference_value_text(item, answer.value)
    if answer.importance is not None:
        text += f" ({content.importance_labels[answer.importance].lower()})"
    return text


def patient_preference_text(
    content: ContentLibrary, item: PreferenceItem, answer: PreferenceAnswer
) -> str:
    """The patient's answer in the words they saw, with how much it matters to them."""
    patient = content.patient
    try:
        wording = patient.preference(item.id) if patient else None
    except KeyError:
        wording = None
    if wording is None:
        text = preference_value_text(item, answer.value)
    elif wording.labels is not None and isinstance(answer.value, int):
        text = f"{answer.value} of 5: {wording.labels[answer.value - 1]}"
    else:
        labels = {o.id: o.label for o in wording.options or []}
        text = ", ".join(labels.get(v, v) for v in chosen(answer))
    if answer.importance is not None:
        words = (
            patient.wording.importance.labels if patient is not None else content.importance_labels
        )
        text += f" ({words[answer.importance].lower()})"
    return text


def patient_alliance_label(content: ContentLibrary, item: AllianceItem, value: int) -> str:
    """An alliance rating in the words the patient saw (the checklist's where theirs has none)."""
    try:
        labels = content.patient.alliance_item(item.id).labels if content.patient else None
    except KeyError:
        labels = None
    return (labels or item.labels)[value]
