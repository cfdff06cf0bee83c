"""Sessions of a case: record, correct and remove them; their history and fit over time."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tailoring.engine.assess import assess
from tailoring.engine.outcomes import (
    expected_scores,
)
from tailoring.model.case import (
    Case,
)
from tailoring.model.session import Session
from tailoring.services.chosen_answers import as_assessed
from tailoring.services.figures import case_figures, refresh_case
from tailoring.services.identifiers import check_identifiers
from tailoring.services.shared import (
    CaseFileError,
    changing,
    content,
    current_user,
    guard,
    unit_of_work,
    validated_case,
    validation_problems,
)
from tailoring.storage.caseload import CaseFigures
from tailoring.storage.cases import StoredCase
from tailoring.storage.sessions import Correction


def expected_band(case: Case, measure_id: str) -> list[tuple[int, float, float]]:
    """(session number, expected, boundary) at the case's scored treatment appointments, for the
    timeline: empty when no curve covers where the patient started or they were below caseness."""
    lib = content()
    expected = lib.expected_change
    measure = lib.measure(measure_id)
    scored = expected_scores(measure, case)
    if expected is None or not scored or measure.caseness is None:
        return []
    first = scored[0][2]
    if first < measure.caseness:
        return []
    band = []
    for k, number, _ in scored:
        point = expected.point(measure_id, first, k)
        if point is not None:
            band.append((number, point.expected, point.boundary))
    return band


def record_session(
    case_id: int,
    session: dict[str, Any],
    expected_revision: int | None = None,
    allow_identifiers: bool = False,
) -> int:
    """Validate a session, store it with the fit as it stands now, and return its revision.

    A change to a saved session is kept as a correction (who, when, old value). Its note is
    checked for identifiers first, as in ``save_answer``.
    """
    with changing(case_id, f"session {session.get('number', '')}") as uow:
        try:
            parsed = Session.model_validate(session)
        except ValidationError as exc:
            raise CaseFileError(
                validation_problems(exc, f"sessions.{session.get('number', '?')}")
            ) from None
        if not allow_identifiers:
            check_identifiers({"note": parsed.note})
        stored = uow.cases.get(case_id)
        others = [s for s in stored.case.sessions if s.number != parsed.number]
        sessions = sorted([*others, parsed], key=lambda s: s.number)
        case = validated_case(
            {**stored.case.model_dump(), "sessions": [s.model_dump() for s in sessions]}
        )
        report = assess(content(), as_assessed(case_id, case))
        revision = uow.sessions.save_session(
            case_id, parsed, report.overall_fit, current_user(), expected_revision
        )
        if stored.kind == "case":
            # The figures of the report just made, if the save was the only change since the read
            # (it bumps the version by one); otherwise read the case again and refresh.
            metrics, current = case_figures(case, report)
            figures = CaseFigures(case_id, stored.version + 1, metrics, current)
            if not uow.caseload.save_figures([figures], current_user()):
                refresh_case(case_id)
        return revision


def remove_session(case_id: int, number: int, expected_revision: int | None = None) -> None:
    with changing(case_id, f"removed session {number}") as uow:
        uow.sessions.delete_session(case_id, number, current_user(), expected_revision)
        refresh_case(case_id)


def session_history(case_id: int) -> list[Correction]:
    """Every correction to the case's sessions, oldest first."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        return uow.sessions.corrections(case_id)


def fit_over_sessions(stored: StoredCase, now: float | None) -> list[tuple[str, float | None]]:
    """The fit recorded with each session, then the fit now: how it changed since the start."""
    points = [(f"Session {n}", stored.session_fits.get(n)) for n in sorted(stored.session_fits)]
    return [*points, ("Now", now)]
