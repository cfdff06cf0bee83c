"""Perception gaps: where the patient's own answers differ from the therapist's by a margin that
matters, raised as flags of the theme ``heard`` with both answers in words.

The study's central finding is that patients felt unheard. A therapist's answers on the patient's
behalf can drift from what the patient would say; each gap below is a prompt to ask, not a verdict
on who is right. Rules (the thresholds are the named constants below):

- Preference scales (1–5): both answered, the patient says it matters (importance 1 or more; an
  answer without an importance counts as 1, as in the fit), and the answers are at least
  ``SCALE_GAP`` points apart. On a 1–5 scale two answers on opposite sides of the midpoint are
  always that far apart, so the one rule covers both. Severity as a preference flag: points apart ×
  importance, 6 or more high, 3 or more medium, else low.
- Choices (therapist's gender and background, language): both answered, it matters to the patient,
  and the options differ. Severity as a 2-point scale gap.
- Several choices (ways of meeting, goals): both answered, it matters to the patient, and one chose
  an option the other did not. Answers that share nothing count as ``DISJOINT_POINTS`` apart, those
  that share some as ``OVERLAP_POINTS``, for the severity.
- Alliance ratings (0–4, "feels scripted" reversed): the patient's rating is at least
  ``ALLIANCE_GAP`` points weaker than the therapist's on the same item (a therapist who rates the
  alliance lower than the patient raises nothing here: the alliance flags cover a weak rating).
- Scripted but bonded: the patient says sessions feel scripted (``SCRIPTED_HIGH`` or more) while the
  therapist rates the bond strong (``BOND_STRONG`` or more), unless the therapist too rated the
  sessions that scripted.
- Rupture signs (0–2): the patient reports more than the therapist recorded.
- Practical barriers: the therapist answered whether a domain is present (yes or no) and the patient
  names a detail of it the therapist did not record.

A missing answer on either side never makes a gap.
"""

from __future__ import annotations

from typing import Literal

from tailoring.engine.describe import actions, social_trigger
from tailoring.engine.fit import is_answered, weight_of
from tailoring.engine.flags.case import new_flag, severity_of
from tailoring.engine.perception import (
    chosen,
    patient_alliance_label,
    patient_preference_text,
    preference_text,
)
from tailoring.model.answers import AllianceAnswer, Answers, PreferenceAnswer
from tailoring.model.content import AllianceItem, ContentLibrary, PreferenceItem
from tailoring.model.patient_content import PatientContent
from tailoring.model.patient_questionnaires import PatientAnswers, as_answers
from tailoring.model.report import SEVERITIES, Flag, Severity, Trigger

# Two points on a 1–5 preference scale is a different label with one between: a real difference,
# where one point is a matter of wording.
SCALE_GAP = 2
# Choices that share nothing are as far apart as a 2-point scale gap; some overlap, half that.
DISJOINT_POINTS = 2
OVERLAP_POINTS = 1
# Two points on the 0–4 alliance ratings, e.g. "mostly" against "a little". Patients rate the
# alliance more warily than therapists assume, so the gap that matters is the patient lower.
ALLIANCE_GAP = 2
# A gap this wide, e.g. "completely" against "a little", is high severity; narrower is medium.
ALLIANCE_GAP_HIGH = 3
# "Mostly" or "completely" scripted, against a bond rated "mostly" or "completely" strong.
SCRIPTED_HIGH = 3
BOND_STRONG = 3
# A clear rupture sign the therapist did not record is high severity; some signs, medium.
RUPTURE_CLEAR = 2

GAP = "gap"
THEME = "heard"
WHY = (
    "Patients in the study felt unheard when therapy followed what others assumed they "
    "wanted. Where the two views differ, ask rather than decide: raising the difference "
    "shows the patient they were heard."
)


def perception_gaps(
    content: ContentLibrary, therapist: Answers, patient: PatientAnswers
) -> list[Flag]:
    """Every perception gap between the therapist's answers and the patient's, most severe first."""
    flags = [
        *_preference_gaps(content, therapist, patient),
        *_alliance_gaps(content, therapist.alliance, patient.alliance),
        *_barrier_gaps(content, therapist, patient),
    ]
    return sorted(flags, key=lambda f: SEVERITIES.index(f.severity))


# Preferences ----------------------------------------------------------------------------------


def _preference_gaps(
    content: ContentLibrary, therapist: Answers, patient: PatientAnswers
) -> list[Flag]:
    flags = []
    for item in content.preferences:
        ours = therapist.preferences.get(item.id)
        theirs = patient.preferences.get(item.id)
        if not (is_answered(ours) and is_answered(theirs)):
            continue
        assert ours is not None and theirs is not None
        weight = weight_of(theirs)
        points = _points_apart(item, ours, theirs)
        if weight == 0 or points is None:
            continue
        flags.append(
            _flag(
                content,
                f"{GAP}.pref.{item.id}",
                severity_of(points * weight),
                f"{item.title}: you and the patient answered differently",
                _preference_words(content, item, ours, theirs),
                [
                    _trigger(
                        "preferences",
                        item.id,
                        item.question,
                        "You recorded",
                        preference_text(content, item, ours),
                    ),
                    _trigger(
                        "preferences",
                        item.id,
                        _patient_question(content, "preferences", item.id, item.question),
                        "The patient answered",
                        patient_preference_text(content, item, theirs),
                    ),
                ],
                ["agree_goals_together", "discuss_preferences"]
                if item.compare == "goals"
                else ["discuss_preferences"],
            )
        )
    return flags


def _points_apart(
    item: PreferenceItem, ours: PreferenceAnswer, theirs: PreferenceAnswer
) -> float | None:
    """How far apart two answers count for the severity, or None when they are no gap."""
    if item.kind == "scale":
        assert isinstance(ours.value, int) and isinstance(theirs.value, int)
        apart = abs(ours.value - theirs.value)
        return apart if apart >= SCALE_GAP else None
    if item.kind == "choice":
        return DISJOINT_POINTS if ours.value != theirs.value else None
    mine, yours = set(chosen(ours)), set(chosen(theirs))
    if mine == yours:
        return None
    return OVERLAP_POINTS if mine & yours else DISJOINT_POINTS


def _preference_words(
    content: ContentLibrary, item: PreferenceItem, ours: PreferenceAnswer, theirs: PreferenceAnswer
) -> str:
    if item.kind == "multi":
        labels = {o.id: o.label for o in item.options or []}
        only_theirs = [labels.get(v, v) for v in chosen(theirs) if v not in chosen(ours)]
        only_ours = [labels.get(v, v) for v in chosen(ours) if v not in chosen(theirs)]
        parts = []
        if only_theirs:
            parts.append(
                "The patient chose " + _listed(only_theirs) + ", which you did not record."
            )
        if only_ours:
            parts.append(
                "You recorded " + _listed(only_ours) + ", which the patient did not choose."
            )
        said = " ".join(parts)
    else:
        said = (
            f"You recorded {preference_text(content, item, ours)}; the patient answered "
            f"{patient_preference_text(content, item, theirs)}."
        )
    return f"{said} {WHY} Talk it through with the patient and agree what to do."


def _listed(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# Alliance -------------------------------------------------------------------------------------


def _alliance_gaps(
    content: ContentLibrary,
    therapist: dict[str, AllianceAnswer],
    patient: dict[str, AllianceAnswer],
) -> list[Flag]:
    flags = []
    for item in content.alliance:
        ours, theirs = therapist.get(item.id), patient.get(item.id)
        if ours is None or theirs is None or ours.value is None or theirs.value is None:
            continue
        if item.kind == "rupture":
            flag = _rupture_gap(content, item, ours.value, theirs.value)
        else:
            flag = _rating_gap(content, item, ours.value, theirs.value)
        if flag is not None:
            flags.append(flag)
    scripted = _scripted_gap(content, therapist, patient)
    return [*flags, *([scripted] if scripted else [])]


def _strength(item: AllianceItem, value: int) -> int:
    """A rating turned so that higher is a stronger alliance ("feels scripted" is reversed)."""
    return item.max_value - value if item.reverse else value


def _rating_gap(content: ContentLibrary, item: AllianceItem, ours: int, theirs: int) -> Flag | None:
    apart = _strength(item, ours) - _strength(item, theirs)
    if apart < ALLIANCE_GAP:
        return None
    return _flag(
        content,
        f"{GAP}.alliance.{item.id}",
        "high" if apart >= ALLIANCE_GAP_HIGH else "medium",
        f"{item.title}: the patient rates it lower than you do",
        f"You rated “{item.labels[ours].lower()}”; the patient answered "
        f"“{patient_alliance_label(content, item, theirs).lower()}”. {WHY} Ask the patient what "
        "would make it better, and show at the next session what you changed.",
        _alliance_triggers(content, item, ours, theirs),
        [item.adaptation, "invite_session_feedback"],
    )


def _rupture_gap(
    content: ContentLibrary, item: AllianceItem, ours: int, theirs: int
) -> Flag | None:
    if theirs <= ours:
        return None
    return _flag(
        content,
        f"{GAP}.alliance.{item.id}",
        "high" if theirs >= RUPTURE_CLEAR else "medium",
        f"{item.title}: the patient reports signs you did not record",
        f"You recorded “{item.labels[ours].lower()}”; the patient answered "
        f"“{patient_alliance_label(content, item, theirs).lower()}”. A strain the patient feels "
        "but the therapist has not noticed is easily left unrepaired. Raise it gently and without "
        "blame, invite their view, and agree what to change.",
        _alliance_triggers(content, item, ours, theirs),
        ["repair_rupture", "discuss_in_supervision"],
    )


def _scripted_gap(
    content: ContentLibrary,
    therapist: dict[str, AllianceAnswer],
    patient: dict[str, AllianceAnswer],
) -> Flag | None:
    bond, scripted = therapist.get("bond"), patient.get("scripted")
    if bond is None or scripted is None or bond.value is None or scripted.value is None:
        return None
    if bond.value < BOND_STRONG or scripted.value < SCRIPTED_HIGH:
        return None
    known = therapist.get("scripted")
    if known is not None and known.value is not None and known.value >= SCRIPTED_HIGH:
        return None  # the therapist already sees it: no gap in perception
    bond_item, scripted_item = content.alliance_item("bond"), content.alliance_item("scripted")
    return _flag(
        content,
        f"{GAP}.alliance.scripted_bond",
        "medium",
        "Sessions feel scripted to the patient, while you rate the bond strong",
        f"You rated the bond “{bond_item.labels[bond.value].lower()}”; the patient says sessions "
        "feel scripted: "
        f"“{patient_alliance_label(content, scripted_item, scripted.value).lower()}”. "
        "Technique delivered by rote feels mechanical to patients even when the relationship "
        "seems good from the therapist's chair. Ask what feels routine, and respond to what they "
        "bring rather than recite.",
        [
            _trigger(
                "alliance", "bond", bond_item.question, "You recorded", bond_item.labels[bond.value]
            ),
            _trigger(
                "alliance",
                "scripted",
                _patient_question(content, "alliance", "scripted", scripted_item.question),
                "The patient answered",
                patient_alliance_label(content, scripted_item, scripted.value),
            ),
        ],
        ["respond_not_recite", "invite_session_feedback"],
    )


def _alliance_triggers(
    content: ContentLibrary, item: AllianceItem, ours: int, theirs: int
) -> list[Trigger]:
    return [
        _trigger("alliance", item.id, item.question, "You recorded", item.labels[ours]),
        _trigger(
            "alliance",
            item.id,
            _patient_question(content, "alliance", item.id, item.question),
            "The patient answered",
            patient_alliance_label(content, item, theirs),
        ),
    ]


# Practical barriers ---------------------------------------------------------------------------


def _barrier_gaps(
    content: ContentLibrary, therapist: Answers, patient: PatientAnswers
) -> list[Flag]:
    if content.patient is None:
        return []
    named = as_answers(content, patient).social
    # A therapist who records an interpreter under language has recorded the need for one.
    implied = as_answers(content, PatientAnswers(preferences=therapist.preferences)).social
    flags = []
    for domain in content.social:
        ours, theirs = therapist.social.get(domain.id), named.get(domain.id)
        if ours is None or theirs is None or ours.present not in ("yes", "no"):
            continue
        known = implied[domain.id].details if domain.id in implied else []
        for detail in domain.details:
            if detail.id not in theirs.details or detail.id in known:
                continue
            if ours.present == "yes" and detail.id in ours.details:
                continue
            recorded = (
                "that it is not present" if ours.present == "no" else "it as present, without this"
            )
            flags.append(
                _flag(
                    content,
                    f"{GAP}.social.{domain.id}.{detail.id}",
                    "medium",
                    f"{domain.title}: the patient names “{detail.label.lower()}”",
                    f"The patient says: “{detail.label}”. You recorded {recorded}. A practical "
                    "barrier nobody asked about is a common, avoidable reason for dropping out. "
                    "Check it with the patient and plan around it.",
                    [
                        _trigger(
                            "social",
                            domain.id,
                            domain.question,
                            "You recorded",
                            social_trigger(domain, ours).answer,
                        ),
                        _trigger(
                            "social",
                            domain.id,
                            _barrier_question(content.patient, domain.id, detail.id),
                            "The patient answered",
                            detail.label,
                        ),
                    ],
                    [detail.adaptation] if detail.adaptation else list(domain.signpost),
                )
            )
    return flags


def _barrier_question(patient: PatientContent, domain_id: str, detail_id: str) -> str:
    """The question the patient answered to name a detail: a barrier's, or a preference's."""
    for barrier in patient.barriers:
        for option in barrier.options:
            if any(r.domain == domain_id and r.detail == detail_id for r in option.records):
                return barrier.question
    for preference in patient.preferences:
        for p_option in preference.options or []:
            if any(r.domain == domain_id and r.detail == detail_id for r in p_option.also):
                return preference.question
    return ""


# Shared ---------------------------------------------------------------------------------------


def _patient_question(content: ContentLibrary, section: str, item_id: str, fallback: str) -> str:
    patient = content.patient
    if patient is None:
        return fallback
    try:
        if section == "preferences":
            return patient.preference(item_id).question
        return patient.alliance_item(item_id).question
    except KeyError:
        return fallback


def _trigger(
    section: Literal["preferences", "social", "alliance"],
    item_id: str,
    question: str,
    who: str,
    answer: str,
) -> Trigger:
    return Trigger(section=section, item_id=item_id, question=question, answer=f"{who}: {answer}")


def _flag(
    content: ContentLibrary,
    flag_id: str,
    severity: Severity,
    title: str,
    explanation: str,
    triggers: list[Trigger],
    adaptation_ids: list[str],
) -> Flag:
    return new_flag(
        content,
        id=flag_id,
        severity=severity,
        theme=THEME,
        title=title,
        explanation=explanation,
        triggers=triggers,
        actions=actions(content, adaptation_ids),
    )
