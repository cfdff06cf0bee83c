"""The fit report as a JSON document that other tools can read back."""

from __future__ import annotations

import json

from tailoring.model.report import FitReport

GENERATED_BY = "tailoring"
SCHEMA = "fit-report/1"


def report_json(report: FitReport) -> str:
    """The whole report as pretty JSON, led by who wrote it and which schema it follows."""
    document = {"generated_by": GENERATED_BY, "schema": SCHEMA, **report.model_dump(mode="json")}
    return json.dumps(document, indent=2, ensure_ascii=False)
