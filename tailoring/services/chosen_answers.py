"""The answers a case's fit uses: the therapist's, or merged with the patient's."""

from __future__ import annotations

from typing import Any

from tailoring.engine.answer_source import merge
from tailoring.model.case import (
    Case,
)
from tailoring.model.patient_questionnaires import (
    PatientAnswers,
    Source,
    as_answers,
)
from tailoring.services.shared import content, unit_of_work


def latest_patient_answers(case_id: int) -> tuple[PatientAnswers, int | None]:
    """The patient's latest answer to each item across the case's links (revoked ones left
    out), and the session their alliance answers are about: the one most recently answered
    about. No access check (callers have made theirs)."""
    with unit_of_work() as uow:
        collected = uow.patient_questionnaires.collected_answers(case_id)
    alliance = [
        a for k, a in collected.get("after_session", {}).items() if k.startswith("alliance.")
    ]
    session = max(alliance, key=lambda a: a.updated_at).session_number if alliance else None
    latest: dict[str, Any] = {}
    for answers in collected.values():
        for key, answer in answers.items():
            if key.startswith("alliance.") and answer.session_number != session:
                continue
            if key not in latest or answer.updated_at > latest[key].updated_at:
                latest[key] = answer
    payloads = {key: answer.payload for key, answer in latest.items()}
    return PatientAnswers.from_payloads(payloads), session


def as_assessed(case_id: int, case: Case, source: Source | None = None) -> Case:
    """The case with the answers its fit uses: the therapist's, or merged with the patient's
    as chosen for the case (``source`` when already known). For the stored figures and flags,
    so the caseload shows the fit the therapist's report shows; no access check (callers
    have made theirs)."""
    if source is None:
        with unit_of_work() as uow:
            source = uow.patient_questionnaires.answer_source(case_id) or "therapist"
    if source == "therapist":
        return case
    patient, _ = latest_patient_answers(case_id)
    merged, _ = merge(case.answers, as_answers(content(), patient), source)
    return case.model_copy(update={"answers": merged})
