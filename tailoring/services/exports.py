"""Exports of stored cases (PDFs, plain text, JSON, FHIR), each checked and audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from tailoring.export import summary_pdf
from tailoring.export import text as text_export
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.report_json import report_json
from tailoring.model.case import (
    Case,
)
from tailoring.model.report import FitReport
from tailoring.services.assessment import assess_case
from tailoring.services.cases import open_case
from tailoring.services.files import case_json, fhir_bundle
from tailoring.services.patient_answers import fit_with_source
from tailoring.services.shared import content, log_export, unit_of_work


def report_pdf(report: FitReport, on: date | None = None) -> bytes:
    log_export("session plan PDF", reference=report.case_reference)
    return session_plan_pdf(report, on or date.today())


# The fit report's plain-text versions: the whole report, or the one-page session plan.
TextKind = Literal["report", "plan"]


def report_text(report: FitReport, kind: TextKind, on: date | None = None) -> str:
    """The fit report or the session plan as plain text to paste into the clinical record."""
    made = text_export.fit_report_text if kind == "report" else text_export.session_plan_text
    return made(report, on or date.today())


def report_text_download(report: FitReport, kind: TextKind, on: date | None = None) -> str:
    """``report_text``, logged as an export: call it only when the file is downloaded."""
    log_export(f"{kind} text", reference=report.case_reference)
    return report_text(report, kind, on)


def session_text(case_id: int, number: int, on: date | None = None) -> str:
    """One recorded session as plain text (its measures and alliance), for the clinical record."""
    case = open_case(case_id).case
    summaries = {s.number: s for s in assess_case(case).sessions}
    if number not in summaries:
        raise ValueError(f"case {case.reference} has no session {number}")
    return text_export.session_text(case.reference, summaries[number], on or date.today())


def session_text_download(case_id: int, number: int, on: date | None = None) -> str:
    """``session_text``, logged as an export: call it only when the file is downloaded."""
    with unit_of_work():
        log_export(f"session {number} text", case_id)
        return session_text(case_id, number, on)


def report_as_json(report: FitReport) -> str:
    log_export("report JSON", reference=report.case_reference)
    return report_json(report)


def case_file(case: Case) -> str:
    """The case in the documented case-file format (JSON)."""
    log_export("case file", reference=case.reference)
    return case_json(case)


def case_fhir(case: Case, at: datetime | None = None) -> str:
    """The case as a FHIR R4B collection Bundle (JSON), led by its fit report."""
    log_export("FHIR bundle", reference=case.reference)
    return fhir_bundle(case, at)


def case_summary_pdf(case_id: int, on: date | None = None) -> bytes:
    """The case summary as PDF: fit, depression and anxiety over sessions, outcomes and flags."""
    with unit_of_work():
        log_export("case summary PDF", case_id)
        case = open_case(case_id).case
        report, _ = fit_with_source(case_id)
    lib = content()
    measures = [lib.measure(lib.tracking.depression_measure), lib.measure(case.anxiety_measure)]
    return summary_pdf.case_summary_pdf(report, measures, on or date.today(), case.therapist)
