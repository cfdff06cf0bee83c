"""FHIR R4B: the content as Questionnaires, a case as a Bundle and back again (docs/fhir.md)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from tailoring.export.fhir.bundle import case_bundle, fit_report_narrative
from tailoring.export.fhir.measure_responses import (
    MeasureResponse,
    add_to_session,
    read_measure_responses,
)
from tailoring.export.fhir.questionnaires import (
    Canonical,
    QuestionnaireSet,
    questionnaires,
)
from tailoring.export.fhir.read import FhirError, read_case_bundle
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.report import FitReport

__all__ = [
    "Canonical",
    "FhirError",
    "MeasureResponse",
    "QuestionnaireSet",
    "add_to_session",
    "case_bundle",
    "case_bundle_json",
    "fit_report_narrative",
    "questionnaire_bundle",
    "questionnaire_bundle_json",
    "questionnaires",
    "read_case_bundle",
    "read_measure_responses",
]


def questionnaire_bundle(content: ContentLibrary) -> dict[str, Any]:
    """Every questionnaire of the content in a collection Bundle, each at its canonical url."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": q["url"], "resource": q} for q in questionnaires(content).by_name.values()
        ],
    }


def questionnaire_bundle_json(content: ContentLibrary) -> str:
    return _json(questionnaire_bundle(content))


def case_bundle_json(
    content: ContentLibrary, case: Case, report: FitReport, generated_at: datetime.datetime
) -> str:
    return _json(case_bundle(content, case, report, generated_at))


def _json(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
