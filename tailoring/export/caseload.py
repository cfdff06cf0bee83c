"""Writing caseload files: cases in the import format, its template, and the CSV exports of the
caseload table, supervision notes and an import's problems.

The import format itself (its columns and rules) is read in tailoring/imports/caseload.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tailoring.export.tables import csv_text
from tailoring.imports.caseload import columns, measures_in_order
from tailoring.model.case import Case
from tailoring.model.caseload import RowError
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import NOT_APPLICABLE

# Spreadsheets run a cell that starts with one of these as a formula; exports defuse them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cases_csv(cases: Iterable[Case], content: ContentLibrary) -> str:
    """Cases in the CSV import format: one row per session; a case with none has one row.

    Walk-through answers are not part of the CSV format (use JSON to carry them).
    """
    header = columns(content)
    item_measure = {item.id: m.id for m in measures_in_order(content) for item in m.items}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for case in cases:
        head = [
            case.reference,
            case.therapist,
            case.protocol_id,
            case.sessions_available,
            case.anxiety_measure,
            case.problem or "",
            case.second_problem or "",
            case.status,
        ]
        if not case.sessions:
            writer.writerow(head + [""] * (len(header) - len(head)))
        for s in case.sessions:
            items = []
            for item_id, measure_id in item_measure.items():
                value = s.measures.get(measure_id, {}).get(item_id)
                items.append("" if value is None else value)
            alliance = []
            for item in content.alliance:
                answer = s.alliance.get(item.id)
                alliance.append("" if answer is None or answer.value is None else answer.value)
            session = [s.number, s.date.isoformat(), s.attendance, s.kind]
            writer.writerow([*head, *session, *items, *alliance, s.note])
    return buffer.getvalue()


def template_csv(content: ContentLibrary) -> str:
    """The header and two example rows: one invented case's assessment and first treatment."""
    example = Case.model_validate(
        {
            "reference": "EX-0001",
            "therapist": "A. Therapist",
            "protocol_id": content.protocols[0].id,
            "sessions_available": content.protocols[0].sessions.max,
            "sessions": [
                _example_session(content, 1, "2026-01-05", "assessment", 0.6, alliance=False),
                _example_session(content, 2, "2026-01-12", "treatment", 0.5, alliance=True),
            ],
        },
        context={"content": content},
    )
    return cases_csv([example], content)


def _example_session(
    content: ContentLibrary, number: int, date: str, kind: str, level: float, alliance: bool
) -> dict[str, Any]:
    measures = {}
    for measure in measures_in_order(content):
        top = measure.max_value
        values: dict[str, Any] = {
            item.id: round(top * level) - (i % 2) for i, item in enumerate(measure.items)
        }
        if measure.risk_item:
            values[measure.risk_item] = measure.min_value
        for item in measure.items:
            if item.not_applicable:
                values[item.id] = NOT_APPLICABLE
        measures[measure.id] = values
    # A good working alliance: ratings one below the top, "scripted" low, no rupture signs.
    ratings = {
        item.id: {
            "value": 0 if item.kind == "rupture" else 1 if item.reverse else item.max_value - 1
        }
        for item in content.alliance
    }
    return {
        "number": number,
        "date": date,
        "attendance": "attended",
        "kind": kind,
        "measures": measures,
        "alliance": ratings if alliance else {},
    }


def _spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with a leading apostrophe so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return value


def caseload_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The caseload table as CSV (e.g. ``[m.table_row() for m in metrics]``)."""
    return csv_text([{k: _spreadsheet_safe(v) for k, v in row.items()} for row in rows])


def notes_csv(notes: Sequence[Mapping[str, Any]]) -> str:
    """Supervision notes as CSV, one row per note, with whatever columns the notes carry."""
    return csv_text([{k: _spreadsheet_safe(v) for k, v in note.items()} for note in notes])


def problems_csv(errors: Iterable[RowError]) -> str:
    """The problems of an import report as CSV: row, column (or field), reference, problem."""
    return csv_text(
        [
            {
                "row": "file" if e.row is None else e.row,
                "column": _spreadsheet_safe(e.field),
                "reference": _spreadsheet_safe(e.reference or ""),
                "problem": _spreadsheet_safe(e.message),
            }
            for e in errors
        ]
    )
