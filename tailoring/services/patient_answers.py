"""What came back through patient questionnaires, beside the therapist's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tailoring.engine.answer_source import merge
from tailoring.engine.assess import assess
from tailoring.engine.flags import perception_gaps
from tailoring.engine.outcomes import (
    recorded_measures,
    score_measure,
)
from tailoring.engine.perception import Comparison, side_by_side, therapist_view
from tailoring.model.answers import Answers
from tailoring.model.measures import MEASURE_ROLES
from tailoring.model.patient_questionnaires import (
    SOURCES,
    PatientAnswers,
    PatientLink,
    Source,
    as_answers,
)
from tailoring.model.report import FitReport, Flag, MeasureScore
from tailoring.services.cases import open_case
from tailoring.services.chosen_answers import latest_patient_answers
from tailoring.services.figures import refresh_case
from tailoring.services.sessions import record_session
from tailoring.services.shared import changing, content, current_user, guard, unit_of_work


@dataclass(frozen=True)
class SideBySide:
    """What the patient said about a case, beside the therapist's own answers."""

    patient: PatientAnswers
    # The case's answers, with the alliance check of the session the patient answered about.
    therapist: Answers
    alliance_session: int | None
    comparisons: list[Comparison]
    gaps: list[Flag]


def patient_answers_for_case(case_id: int) -> tuple[PatientAnswers, int | None]:
    """The patient's latest answer to each item across the case's links (revoked ones left out),
    and the session their alliance answers are about.

    The alliance answers are those about one session: the one most recently answered about.
    """
    with unit_of_work():
        guard("case.view", case_id)
        return latest_patient_answers(case_id)


def patient_side_by_side(case_id: int) -> SideBySide:
    """The patient's answers beside the therapist's, item by item, and the perception gaps."""
    with unit_of_work():
        case = open_case(case_id).case
        patient, session = patient_answers_for_case(case_id)
    therapist = therapist_view(case, session)
    lib = content()
    return SideBySide(
        patient=patient,
        therapist=therapist,
        alliance_session=session,
        comparisons=side_by_side(lib, therapist, patient),
        gaps=perception_gaps(lib, therapist, patient),
    )


def answer_source(case_id: int) -> Source:
    """Which answers the case's fit uses; the therapist's until someone chooses."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        return uow.patient_questionnaires.answer_source(case_id) or "therapist"


def set_answer_source(case_id: int, source: Source) -> None:
    """Choose which answers the case's fit uses (ValueError for an unknown source)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    with changing(case_id, f"fit uses answers: {source}") as uow:
        uow.patient_questionnaires.set_answer_source(case_id, source, current_user())
        refresh_case(case_id)


def fit_with_source(case_id: int) -> tuple[FitReport, Source]:
    """The case's fit report on its chosen answers, each dimension saying whose answer it used.

    The one fit of a stored case: the walk-through's report, the timeline, the case review, both
    PDFs and the caseload's stored figures (through ``as_assessed``, the same merge) all show it,
    so a case never shows one fit in one place and another elsewhere.
    """
    with unit_of_work():
        stored = open_case(case_id)
        source = answer_source(case_id)
        patient, _ = patient_answers_for_case(case_id)
    merged, sources = merge(stored.case.answers, as_answers(content(), patient), source)
    report = assess(content(), stored.case.model_copy(update={"answers": merged}))
    dimensions = [
        d.model_copy(
            update={
                "source": None
                if d.status == "unanswered"
                else sources.get(("preferences", d.item_id))
            }
        )
        for d in report.dimensions
    ]
    return report.model_copy(update={"dimensions": dimensions}), source


@dataclass(frozen=True)
class PatientMeasures:
    """What the patient answered before one session: each measure scored, and item by item."""

    link: PatientLink
    session_number: int
    scores: list[MeasureScore]
    # (measure, item, the answer in the words the patient chose), in questionnaire order.
    items: list[tuple[str, str, str]]
    # The answers as a session records them: measure id -> item id -> value.
    answers: dict[str, dict[str, Any]]

    @property
    def risk(self) -> bool:
        """A risk item (PHQ-9 item 9) was answered above 0."""
        return any(score.risk for score in self.scores)


def patient_measures(case_id: int) -> list[PatientMeasures]:
    """The measures the patient answered through each link with a before-session questionnaire
    (revoked ones left out), newest first."""
    lib = content()
    with unit_of_work() as uow:
        guard("case.view", case_id)
        given_by_link = [
            (link, before.session_number, uow.patient_questionnaires.answers(link.id))
            for link in uow.patient_questionnaires.links(case_id)
            if (before := link.questionnaire("before_session")) is not None
            and before.session_number is not None
            and before.answered
            and link.revoked_at is None
        ]
    found = []
    for link, number, given_answers in given_by_link:
        payloads = {k: a.payload for k, a in given_answers.items()}
        answered = PatientAnswers.from_payloads(payloads).measures
        scores, items, answers = [], [], {}
        for measure in sorted(lib.measures, key=lambda m: MEASURE_ROLES.index(m.role)):
            given = answered.get(measure.id)
            if not given:
                continue
            scores.append(score_measure(measure, given))
            answers[measure.id] = dict(given)
            words = {o.value: o.label for o in measure.options}
            for item in measure.items:
                value = given.get(item.id)
                if value is not None:
                    words_for = item.not_applicable if value == "na" else words.get(value)
                    items.append((measure.short_name, item.text, str(words_for or value)))
        found.append(PatientMeasures(link, number, scores, items, answers))
    return found


def patient_session_measures(case_id: int, number: int) -> PatientMeasures | None:
    """What the patient answered before session ``number``: the newest link for that session
    with answers (revoked ones left out), or None."""
    return next((m for m in patient_measures(case_id) if m.session_number == number), None)


def copy_patient_measures(case_id: int, number: int, expected_revision: int | None = None) -> int:
    """Record in session ``number`` the measures the patient answered before it, by link, and
    return the session's new revision.

    Each measure the patient answered replaces the session's entries for that measure, item by
    item as the patient gave them (what was there before stays in the change history); the
    session's other measures, alliance check and note are left as they are. LookupError when
    the session is not recorded yet or the patient answered none of its measures; StaleSession
    as ``record_session`` when someone changed the session since ``expected_revision``.
    """
    with unit_of_work():
        stored = open_case(case_id)
        session = next((s for s in stored.case.sessions if s.number == number), None)
        if session is None:
            raise LookupError(f"session {number} is not recorded yet: add it first")
        found = patient_session_measures(case_id, number)
        recorded = {m.id for m in recorded_measures(content(), stored.case.anxiety_measure)}
        given = found.answers if found else {}
        copied = {m: items for m, items in given.items() if m in recorded}
        if not copied:
            raise LookupError(f"the patient has answered no measure before session {number}")
        data = session.model_dump()
        data["measures"] = {**data["measures"], **copied}
        # The note is not changed here: it was checked (or kept as written) when it was saved.
        return record_session(case_id, data, expected_revision, allow_identifiers=True)
