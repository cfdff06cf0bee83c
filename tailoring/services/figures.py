"""A case's caseload figures and flag history, recomputed after every change to it."""

from __future__ import annotations

from collections.abc import Sequence

from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics
from tailoring.model.case import (
    Case,
)
from tailoring.model.caseload import CaseMetrics
from tailoring.model.report import FitReport
from tailoring.services.chosen_answers import as_assessed
from tailoring.services.shared import content, current_user, unit_of_work
from tailoring.storage.caseload import CaseFigures
from tailoring.storage.supervision import FlagState

# Cases whose figures are computed in one batch: a second or two of assessing them.
FIGURES_BATCH = 200

# Flag titles are stored cut to this length.
FLAG_TITLE_LENGTH = 200


def refresh_case(case_id: int) -> None:
    """Recompute a real case's caseload figures and record which flags it raises now.

    Called after every change to a case (and to the patient's answers when its fit uses them),
    so the caseload reads stored figures in one query and the flag history knows when each flag
    was raised and cleared. The figures are those of the fit on the case's chosen answers.
    Inside the change's unit of work, so the change and its figures are stored together.
    """
    with unit_of_work() as uow:
        stored = uow.cases.get(case_id)
        if stored.kind == "case":
            assessed = as_assessed(case_id, stored.case)
            metrics, current = case_figures(stored.case, assess(content(), assessed))
            # Stored only if the case is still at the version read: a change that locked the
            # case first keeps the figures of the case as it is now.
            uow.caseload.save_figures(
                [CaseFigures(case_id, stored.version, metrics, current)], current_user()
            )


def case_figures(case: Case, report: FitReport) -> tuple[CaseMetrics, tuple[FlagState, ...]]:
    """The caseload figures of a case and the flags it raises, from its current report."""
    metrics = case_metrics(report, case, content().tracking.alliance_min_ratings)
    current = tuple(
        FlagState(f.id, f.severity, f.theme, f.title[:FLAG_TITLE_LENGTH]) for f in report.flags
    )
    return metrics, current


def compute_figures(case_ids: Sequence[int]) -> int:
    """Compute and store the caseload figures of many cases at once; return how many were stored.

    The figures and flag history ``refresh_case`` keeps, with a few statements per batch of
    cases instead of several a case. Practice attempts are left alone, and so is a case that
    changed or was deleted meanwhile (the change's own refresh keeps its figures current).
    """
    figures = []
    with unit_of_work() as uow:
        sources = uow.patient_questionnaires.answer_sources(case_ids)
        for stored in uow.cases.get_many(case_ids):
            if stored.kind == "case":
                source = sources.get(stored.id, "therapist")
                assessed = as_assessed(stored.id, stored.case, source)
                metrics, flags = case_figures(stored.case, assess(content(), assessed))
                figures.append(CaseFigures(stored.id, stored.version, metrics, flags))
        return len(uow.caseload.save_figures(figures, current_user()))


def compute_pending_figures(limit: int = FIGURES_BATCH) -> int:
    """Compute the figures of up to ``limit`` cases that have none yet (imported ones), oldest
    first; return how many were stored, 0 when no case is waiting."""
    with unit_of_work() as uow:
        return compute_figures(uow.caseload.cases_without_metrics(limit))
