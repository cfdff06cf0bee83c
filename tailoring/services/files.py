"""Case files and FHIR bundles: reading and writing the documented formats, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tailoring.content import content_dir
from tailoring.export import fhir
from tailoring.export.report_json import report_json
from tailoring.limits import InputRefused, load_json
from tailoring.model.case import (
    Case,
)
from tailoring.services.assessment import assess_case
from tailoring.services.shared import CaseFileError, content, validated_case


def case_json(case: Case) -> str:
    return case.model_dump_json(indent=2, exclude_defaults=False)


# A case file is already in the hands of whoever runs the command: nothing is read from or written
# to the database, so these work where none is configured or reachable, and audit nothing.


def file_report_json(case: Case) -> str:
    """The fit report of a case read from a file, as JSON; opens no database."""
    return report_json(assess_case(case))


def file_fhir_bundle(case: Case, at: datetime | None = None) -> str:
    """A case read from a file as a FHIR R4B Bundle (JSON); opens no database."""
    return fhir_bundle(case, at)


def file_case_json(case: Case) -> str:
    """A case read from a file (e.g. a FHIR Bundle) in the case-file format; opens no database."""
    return case_json(case)


def parse_case_file(text: str) -> Case:
    """Parse and validate a case file against the content; CaseFileError names every field."""
    try:
        data = load_json(text)
    except InputRefused as exc:
        raise CaseFileError([str(exc)]) from None
    if not isinstance(data, dict):
        raise CaseFileError(["expected a JSON object at the top level"])
    return validated_case(data)


def case_schema() -> dict[str, Any]:
    return Case.model_json_schema()


def demo_case_paths() -> list[Path]:
    """The invented demo cases shipped with the content."""
    return sorted((content_dir() / "demo").glob("*.json"))


FhirError = fhir.FhirError


def fhir_questionnaires() -> str:
    """The content's questionnaires as a FHIR R4B Bundle (JSON); docs/fhir.md describes them."""
    return fhir.questionnaire_bundle_json(content())


def fhir_bundle(case: Case, at: datetime | None) -> str:
    return fhir.case_bundle_json(content(), case, assess_case(case), at or datetime.now(UTC))


def case_from_fhir(text: str) -> Case:
    """The case a FHIR Bundle holds; FhirError names the resource and element of each problem."""
    return fhir.read_case_bundle(content(), text)


def is_fhir_bundle(text: str) -> bool:
    """Whether JSON text is a FHIR Bundle rather than a case file (by its resourceType)."""
    try:
        data = load_json(text)
    except InputRefused:
        return False
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"
