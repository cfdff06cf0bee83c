"""Which answers the fit uses: the therapist's, the patient's own, or the patient's where given.

The patient's answers come in the checklist's format
(tailoring.model.patient_questionnaires.as_answers), so the fit, the flags and the report run on
the merged answers unchanged; the sources say, item by item, whose answer was used, for the report
to show beside each dimension.

- ``therapist``: the therapist's answers only.
- ``patient``: the patient's answers only; what the patient was not asked stays unanswered.
- ``patient_where_present``: the patient's answer wherever they gave one, else the therapist's.
  A preference counts as given when it has a value, an alliance item when it has a rating. For a
  social domain the patient only names practical barriers, so their details are added to the
  therapist's answer, which keeps what only the therapist records (whether the domain keeps the
  difficulties going, who is helping, other details, the note).
"""

from __future__ import annotations

from typing import Literal

from tailoring.engine.fit import is_answered
from tailoring.model.answers import SECTIONS, Answers, Section, SocialAnswer
from tailoring.model.patient_questionnaires import SOURCES, Source

Origin = Literal["patient", "therapist"]
Sources = dict[tuple[Section, str], Origin]


def merge(therapist: Answers, patient: Answers, source: Source) -> tuple[Answers, Sources]:
    """The answers to compute the fit on, and whose answer each item is (ValueError if
    ``source`` is not one of SOURCES)."""
    if source == "therapist":
        return therapist, _all(therapist, "therapist")
    if source == "patient":
        return patient, _all(patient, "patient")
    if source != "patient_where_present":
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    preferences = dict(therapist.preferences)
    alliance = dict(therapist.alliance)
    social = dict(therapist.social)
    sources = _all(therapist, "therapist")
    for item_id, answer in patient.preferences.items():
        if is_answered(answer):
            preferences[item_id] = answer
            sources[("preferences", item_id)] = "patient"
    for item_id, rating in patient.alliance.items():
        if rating.value is not None:
            alliance[item_id] = rating
            sources[("alliance", item_id)] = "patient"
    for domain_id, named in patient.social.items():
        if named.present is None and not named.details:
            continue
        social[domain_id] = _with_patient_details(therapist.social.get(domain_id), named)
        sources[("social", domain_id)] = "patient"
    merged = Answers(preferences=preferences, social=social, alliance=alliance)
    return merged, sources


def _with_patient_details(ours: SocialAnswer | None, theirs: SocialAnswer) -> SocialAnswer:
    if ours is None:
        return theirs
    details = [*ours.details, *(d for d in theirs.details if d not in ours.details)]
    return ours.model_copy(update={"present": theirs.present or ours.present, "details": details})


def _all(answers: Answers, origin: Origin) -> Sources:
    return {
        (section, item_id): origin for section in SECTIONS for item_id in getattr(answers, section)
    }
