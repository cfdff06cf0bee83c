"""Reading caseload files: the import format (CSV or JSON) validated row by row.

The format is documented for the people who write these files in docs/caseload-format.md; keep
the two in step. Every row is checked before anything is imported, and every problem is
reported with its row (as a spreadsheet numbers it: the header is row 1) and its column. The
database's own references are checked by the caller with ``conflicts_with_existing``. The
writers of the format (a case's rows, the template) are in tailoring/export/caseload.py.

Over 500 lines because the format is read here in full: its columns, the file-level limits, and
the CSV and JSON readers, which share the row errors and the reference checks.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import difflib
import gc
import io
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from tailoring.limits import CASELOAD_FILE_MB, InputRefused, check_size, load_json
from tailoring.model.case import REFERENCE_PATTERN, Case
from tailoring.model.caseload import ImportReport, RowError
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import MEASURE_ROLES, NOT_APPLICABLE, Measure
from tailoring.model.session import ATTENDANCES, SESSION_KINDS
from tailoring.model.text import NAME_CHARS, NOTE_CHARS

MAX_ROWS = 200_000
MAX_ERRORS = 5_000
SESSIONS_AVAILABLE = (1, 60)
SESSION_NUMBER = (1, 200)
DEFAULT_ANXIETY = "gad7"
REQUIRED = (
    "reference",
    "therapist",
    "protocol_id",
    "sessions_available",
    "session",
    "date",
    "attendance",
    "kind",
)
CASE_FIELDS = (
    "reference",
    "therapist",
    "protocol_id",
    "sessions_available",
    "anxiety_measure",
    "problem",
    "second_problem",
)
SESSION_FIELDS = ("date", "attendance", "kind", "note")
ALLIANCE_PREFIX = "alliance_"
STATUSES = ("active", "archived")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def measures_in_order(content: ContentLibrary) -> list[Measure]:
    """The content's measures, depression first, then anxiety, then functioning."""
    return sorted(content.measures, key=lambda m: MEASURE_ROLES.index(m.role))


def measure_columns(content: ContentLibrary) -> list[str]:
    """The item columns: every item of every measure in the content, e.g. phq9_1 … wsas_5."""
    return [item.id for measure in measures_in_order(content) for item in measure.items]


def alliance_columns(content: ContentLibrary) -> list[str]:
    """The session alliance check's columns, e.g. alliance_bond."""
    return [f"{ALLIANCE_PREFIX}{item.id}" for item in content.alliance]


def columns(content: ContentLibrary) -> list[str]:
    """Every column of the CSV format, in the template's order."""
    return [
        *CASE_FIELDS,
        "status",
        "session",
        "date",
        "attendance",
        "kind",
        *measure_columns(content),
        *alliance_columns(content),
        "note",
    ]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file (or caseload) is read.

    Reading builds millions of small dicts that live until the import ends; the collector's
    passes over them, not the checks, took most of the time (10 s instead of 4 for 100,000
    rows). Reference counting still frees everything that is dropped on the way. Threads may
    overlap: the collector is turned back on by whoever turned it off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Errors:
    """Problems as they are found: all counted, the first MAX_ERRORS kept."""

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.total = 0
        self.references: set[str] = set()

    def add(
        self,
        row: int | None,
        column: str,
        message: str,
        reference: str | None = None,
        file_level: bool = False,
    ) -> None:
        self.total += 1
        if reference:
            self.references.add(reference)
        if len(self.kept) < MAX_ERRORS:
            self.kept.append(
                RowError(
                    row=row,
                    field=column,
                    message=message,
                    reference=reference or None,
                    file_level=file_level,
                )
            )


def _file_error(message: str, kind: Literal["csv", "json"] | None = None) -> ImportReport:
    return ImportReport(
        format=kind,
        errors=[RowError(row=None, field="file", message=message, file_level=True)],
        errors_total=1,
    )


def parse_caseload(
    data: bytes,
    filename: str,
    content: ContentLibrary,
    check_reference: Callable[[str], list[str]] | None = None,
) -> ImportReport:
    """Validate every row of a caseload file (CSV or JSON) and build the valid cases.

    CSV or JSON is decided by the file name (.csv, .json), else by the first character. Files
    over CASELOAD_FILE_MB, with more than MAX_ROWS rows or cases, not in UTF-8, or JSON beyond
    the limits of ``load_json`` are refused whole.
    ``check_reference`` adds the service's own rules for references (e.g. no names), each
    problem reported on the reference's rows.
    """
    try:
        check_size(len(data), CASELOAD_FILE_MB)
    except InputRefused as exc:
        return _file_error(exc.sentence())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _file_error(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f"{exc.start}). Save it as 'CSV UTF-8' (or JSON in UTF-8) and try again."
        )
    if not text.strip():
        return _file_error("The file is empty.")
    name = filename.lower()
    is_json = name.endswith(".json") or (
        not name.endswith(".csv") and text.lstrip()[:1] in ("[", "{")
    )
    checks = _ReferenceChecks(check_reference)
    if is_json:
        return _parse_json(text, content, checks)
    return _parse_csv(text, content, checks)


class _ReferenceChecks:
    """The pattern of references, then the service's own rules; each reference checked once."""

    def __init__(self, extra: Callable[[str], list[str]] | None) -> None:
        self.extra = extra
        self.pattern = re.compile(REFERENCE_PATTERN)
        self.seen: dict[str, list[str]] = {}

    def __call__(self, reference: str, pattern: bool = True) -> list[str]:
        if not pattern and not self.pattern.fullmatch(reference):
            return []
        if reference not in self.seen:
            if not self.pattern.fullmatch(reference):
                problems = ["use 2–32 letters, digits, dots or dashes, starting with one of them"]
            else:
                problems = list(self.extra(reference)) if self.extra else []
            self.seen[reference] = problems
        return self.seen[reference]


# JSON --------------------------------------------------------------------------------------------


def _parse_json(text: str, content: ContentLibrary, checks: _ReferenceChecks) -> ImportReport:
    try:
        data = load_json(text)
    except InputRefused as exc:
        return _file_error(exc.sentence(), "json")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return _file_error("Expected a JSON list of case files.", "json")
    if len(data) > MAX_ROWS:
        return _file_error(
            f"The file holds {len(data):,} cases; the limit is {MAX_ROWS:,}. Split it.", "json"
        )
    errors = _Errors()
    first_rows: dict[str, int] = {}
    built: list[Case] = []
    with collector_paused():
        for row, item in enumerate(data, start=1):
            _read_case(row, item, content, checks, errors, first_rows, built)
    return ImportReport(
        format="json",
        cases=[c for c in built if c.reference not in errors.references],
        errors=errors.kept,
        errors_total=errors.total,
        rows_read=len(data),
        invalid_references=sorted(r for r in errors.references if r in first_rows),
        first_rows=first_rows,
    )


def _read_case(
    row: int,
    item: Any,
    content: ContentLibrary,
    checks: _ReferenceChecks,
    errors: _Errors,
    first_rows: dict[str, int],
    built: list[Case],
) -> None:
    """Check one case file of a JSON list against the model and the content."""
    if not isinstance(item, dict):
        errors.add(row, "case", "expected a case file (a JSON object)")
        return
    reference = item.get("reference") if isinstance(item.get("reference"), str) else None
    if reference is not None:
        # The model reports a reference that breaks the pattern; add the service's rules.
        for problem in checks(reference, pattern=False):
            errors.add(row, "reference", problem, reference)
        if reference in first_rows:
            errors.add(
                row,
                "reference",
                f"{reference} is also case {first_rows[reference]} of this file",
                reference,
            )
            return
        first_rows[reference] = row
    try:
        case = Case.model_validate(item, context={"content": content})
    except ValidationError as exc:
        for where, message in _validation_problems(exc):
            errors.add(row, where, message, reference)
        return
    built.append(case)


def _validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) of each problem, splitting the case validators' joined messages."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if where:
            problems.append((where, message))
            continue
        for part in message.split("; "):
            path, sep, rest = part.partition(": ")
            problems.append((path, rest) if sep else ("case", part))
    return problems


# CSV ---------------------------------------------------------------------------------------------


@dataclass
class _Draft:
    """A case as its rows are read: fields from its first row, sessions by number."""

    first_row: int
    raw: tuple[str, ...]
    fields: dict[str, Any]
    sessions: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)


# (column position, item id, allowed cell text → value, the range in words)
_ItemColumn = tuple[int, str, dict[str, Any], str]


@dataclass(frozen=True)
class _Layout:
    """Where each column is, and how to read the item and alliance cells."""

    index: dict[str, int]
    case: tuple[int, ...]
    session_cells: tuple[int, ...]
    measures: tuple[tuple[str, tuple[_ItemColumn, ...]], ...]
    alliance: tuple[_ItemColumn, ...]


def _layout(header: list[str], content: ContentLibrary, errors: _Errors) -> _Layout | None:
    """Read the header: missing columns block the file; unknown or repeated ones too."""
    known = columns(content)
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        if not name:
            errors.add(1, f"column {position + 1}", "a column has no name", file_level=True)
        elif name in index:
            errors.add(1, name, "the column appears twice", file_level=True)
        elif name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.add(
                1,
                name,
                f"unknown column{hint}; the columns are listed in docs/caseload-format.md",
                file_level=True,
            )
        else:
            index[name] = position
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        errors.add(
            1,
            ", ".join(missing),
            f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            file_level=True,
        )
        return None
    measures = []
    for measure in measures_in_order(content):
        span = f"{measure.min_value}–{measure.max_value}"
        items = []
        for item in measure.items:
            if item.id in index:
                allowed: dict[str, Any] = {str(o.value): o.value for o in measure.options}
                if item.not_applicable:
                    allowed[NOT_APPLICABLE] = NOT_APPLICABLE
                items.append((index[item.id], item.id, allowed, span))
        if items:
            measures.append((measure.id, tuple(items)))
    alliance = tuple(
        (
            index[f"{ALLIANCE_PREFIX}{item.id}"],
            item.id,
            {str(v): {"value": v} for v in range(item.max_value + 1)},
            f"0–{item.max_value}",
        )
        for item in content.alliance
        if f"{ALLIANCE_PREFIX}{item.id}" in index
    )
    session_cells = tuple(
        index[c]
        for c in (*SESSION_FIELDS, *measure_columns(content), *alliance_columns(content))
        if c in index
    )
    return _Layout(
        index=index,
        case=tuple(index.get(c, -1) for c in (*CASE_FIELDS, "status")),
        session_cells=session_cells,
        measures=tuple(measures),
        alliance=alliance,
    )


def _whole_number(cell: str, low: int, high: int) -> tuple[int | None, str | None]:
    try:
        value = int(cell)
    except ValueError:
        return None, f"expected a whole number {low}–{high}, got {cell!r}"
    if not low <= value <= high:
        return None, f"{value} is outside {low}–{high}"
    return value, None


def _item_problem(cell: str, span: str, na: bool = True) -> str:
    if cell.lower() == NOT_APPLICABLE:
        return "'not applicable' (na) is not allowed on this item"
    try:
        int(cell)
    except ValueError:
        extra = " or na where allowed" if na else ""
        return f"expected a whole number {span}{extra}, got {cell!r}"
    return f"{cell} is outside {span}"


def _answers(
    cells: list[str], columns: tuple[_ItemColumn, ...], problems: list[tuple[str, str]], na: bool
) -> dict[str, Any]:
    """The answered cells of some item columns; each bad cell named in ``problems``."""
    try:
        return {
            item_id: allowed[cell] for at, item_id, allowed, _ in columns if (cell := cells[at])
        }
    except KeyError:
        pass
    answers = {}
    for at, item_id, allowed, span in columns:
        cell = cells[at]
        if cell and cell not in allowed:
            column = item_id if na else f"{ALLIANCE_PREFIX}{item_id}"
            problems.append((column, _item_problem(cell, span, na)))
        elif cell:
            answers[item_id] = allowed[cell]
    return answers


class _CsvReader:
    """Reads data rows into case drafts, checking every cell; dates are parsed once each."""

    def __init__(
        self,
        layout: _Layout,
        width: int,
        content: ContentLibrary,
        checks: _ReferenceChecks,
        errors: _Errors,
        strip: bool,
    ) -> None:
        self.layout = layout
        self.width = width
        self.strip = strip
        self.content = content
        self.checks = checks
        self.errors = errors
        self.drafts: dict[str, _Draft] = {}
        self.case_cells = operator.itemgetter(*(i for i in layout.case if i >= 0))
        self.dates: dict[str, datetime.date | str] = {}
        self.numbers: dict[str, tuple[int | None, str | None]] = {}
        index = layout.index
        self.at_reference = index["reference"]
        self.at_session = index["session"]
        self.at_date = index["date"]
        self.at_attendance = index["attendance"]
        self.at_kind = index["kind"]
        self.at_note = index.get("note", -1)

    def row(self, record: list[str], row: int) -> None:
        """Check one data row and add what it holds to its case's draft."""
        errors = self.errors
        cells = [c.strip() for c in record] if self.strip else record
        if len(cells) != self.width:
            if any(cells[self.width :]):
                message = f"{len(cells)} cells, but the header has {self.width} columns"
                errors.add(row, "row", message)
            cells = (cells + [""] * self.width)[: self.width]
        reference = cells[self.at_reference]
        if not reference:
            errors.add(row, "reference", "required")
            return
        raw = self.case_cells(cells)
        draft = self.drafts.get(reference)
        if draft is None:
            fields, problems = _case_fields(cells, self.layout, self.content, self.checks)
            for column, message in problems:
                errors.add(row, column, message, reference)
            draft = self.drafts[reference] = _Draft(first_row=row, raw=raw, fields=fields)
        elif raw != draft.raw:
            self._compare(cells, row, reference, draft)
        session_problems: list[tuple[str, str]] = []
        session = self._session(cells, session_problems)
        for column, message in session_problems:
            errors.add(row, column, message, reference)
        if session is None or session["number"] is None:
            return
        number = session["number"]
        if number in draft.sessions:
            errors.add(
                row,
                "session",
                f"session {number} of {reference} is already on row {draft.sessions[number][0]}",
                reference,
            )
            return
        draft.sessions[number] = (row, session)

    def _compare(self, cells: list[str], row: int, reference: str, draft: _Draft) -> None:
        """A later row of a case must repeat the case columns of its first row."""
        fields, _ = _case_fields(cells, self.layout, self.content, self.checks)
        for name in (*CASE_FIELDS, "status"):
            if fields[name] != draft.fields[name]:
                self.errors.add(
                    row,
                    name,
                    f"{fields[name]!r} differs from {draft.fields[name]!r} on row "
                    f"{draft.first_row}, the first row of {reference}",
                    reference,
                )

    def _date(self, cell: str) -> datetime.date | str:
        """The date in a cell, or why it is not one."""
        if cell not in self.dates:
            if not cell:
                self.dates[cell] = "required"
            elif not DATE.fullmatch(cell):
                self.dates[cell] = f"expected a date as YYYY-MM-DD, got {cell!r}"
            else:
                try:
                    self.dates[cell] = datetime.date.fromisoformat(cell)
                except ValueError:
                    self.dates[cell] = f"{cell} is not a date in the calendar"
        return self.dates[cell]

    def _session(self, cells: list[str], problems: list[tuple[str, str]]) -> dict[str, Any] | None:
        """The session on a row (None when its session number is empty)."""
        layout = self.layout
        number_cell = cells[self.at_session]
        if not number_cell:
            if any(cells[i] for i in layout.session_cells):
                message = "the session number is empty but session columns are not"
                problems.append(("session", message))
            return None
        if number_cell not in self.numbers:
            self.numbers[number_cell] = _whole_number(number_cell, *SESSION_NUMBER)
        number, problem = self.numbers[number_cell]
        if problem:
            problems.append(("session", problem))
        date = self._date(cells[self.at_date])
        if isinstance(date, str):
            problems.append(("date", date))
        attendance = cells[self.at_attendance]
        if attendance not in ATTENDANCES:
            message = f"expected one of {', '.join(ATTENDANCES)}, got {attendance!r}"
            problems.append(("attendance", message))
        kind = cells[self.at_kind]
        if kind not in SESSION_KINDS:
            problems.append(("kind", f"expected one of {', '.join(SESSION_KINDS)}, got {kind!r}"))
        note = cells[self.at_note] if self.at_note >= 0 else ""
        if len(note) > NOTE_CHARS:
            problems.append(("note", f"longer than {NOTE_CHARS} characters"))
        measures = {}
        for measure_id, item_columns in layout.measures:
            answers = _answers(cells, item_columns, problems, na=True)
            if answers:
                measures[measure_id] = answers
        return {
            "number": number,
            "date": None if isinstance(date, str) else date,
            "attendance": attendance,
            "kind": kind,
            "measures": measures,
            "alliance": _answers(cells, layout.alliance, problems, na=False),
            "note": note,
        }


def _case_fields(
    cells: list[str], layout: _Layout, content: ContentLibrary, checks: _ReferenceChecks
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The case columns of a row, parsed, and the problems with them as (column, message)."""
    problems: list[tuple[str, str]] = []
    values = [cells[i] if i >= 0 else "" for i in layout.case]
    reference, therapist, protocol_id, available, anxiety, problem_id, second_id, status = values
    parsed: dict[str, Any] = {"reference": reference}
    problems += [("reference", p) for p in checks(reference)]
    if not therapist:
        problems.append(("therapist", "required: the clinician who holds the case"))
    elif len(therapist) > NAME_CHARS:
        problems.append(("therapist", f"longer than {NAME_CHARS} characters"))
    parsed["therapist"] = therapist
    protocols = [p.id for p in content.protocols]
    if protocol_id not in protocols:
        problems.append(
            (
                "protocol_id",
                f"unknown protocol {protocol_id!r} (known: {', '.join(protocols)})"
                if protocol_id
                else "required",
            )
        )
    parsed["protocol_id"] = protocol_id
    number, problem = _whole_number(available, *SESSIONS_AVAILABLE)
    if problem:
        problems.append(("sessions_available", problem if available else "required"))
    parsed["sessions_available"] = number
    anxiety = anxiety or DEFAULT_ANXIETY
    anxiety_ids = [m.id for m in content.measures if m.role == "anxiety"]
    if anxiety not in anxiety_ids:
        problems.append(
            (
                "anxiety_measure",
                f"unknown anxiety measure {anxiety!r} (known: {', '.join(anxiety_ids)})",
            )
        )
    parsed["anxiety_measure"] = anxiety
    known = [p.id for p in content.problems]
    for name, value in (("problem", problem_id), ("second_problem", second_id)):
        if value and value not in known:
            problems.append((name, f"unknown problem {value!r} (known: {', '.join(known)})"))
        parsed[name] = value or None
    status = status or "active"
    if status not in STATUSES:
        problems.append(("status", f"expected one of {', '.join(STATUSES)}, got {status!r}"))
    parsed["status"] = status
    return parsed, problems


def _sniff_delimiter(text: str) -> str:
    """Comma, or semicolon when the header uses semicolons only (spreadsheets in some locales)."""
    first = text.split("\n", 1)[0]
    return ";" if ";" in first and "," not in first else ","


def _needs_strip(text: str, delimiter: str) -> bool:
    """Whether any cell may start or end with a space: whitespace next to a delimiter, a quote
    or a line end. Most files have none, and stripping every cell is a fifth of the work."""
    space, edge = r"[^\S\r\n]", rf"[{re.escape(delimiter)}\"\r\n]"
    return re.search(rf"{space}{edge}|{edge}{space}|^{space}|{space}$", text) is not None


def _parse_csv(text: str, content: ContentLibrary, checks: _ReferenceChecks) -> ImportReport:
    errors = _Errors()
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        return _file_error(f"The header row cannot be read: {exc}", "csv")
    layout = _layout(header, content, errors)
    if layout is None:
        return ImportReport(format="csv", errors=errors.kept, errors_total=errors.total)
    rows = _CsvReader(layout, len(header), content, checks, errors, _needs_strip(text, delimiter))
    rows_read = 0
    row = 1
    with collector_paused():
        try:
            for record in reader:
                row += 1
                if not any(record):
                    continue
                rows_read += 1
                if rows_read > MAX_ROWS:
                    return _file_error(
                        f"The file has more than {MAX_ROWS:,} rows. Split it into smaller files.",
                        "csv",
                    )
                rows.row(record, row)
        except csv.Error as exc:
            errors.add(row, "file", f"the row cannot be read as CSV: {exc}", file_level=True)
            return ImportReport(format="csv", errors=errors.kept, errors_total=errors.total)
        cases = _build(rows.drafts, errors)
    return ImportReport(
        format="csv",
        cases=cases,
        errors=errors.kept,
        errors_total=errors.total,
        rows_read=rows_read,
        invalid_references=sorted(r for r in errors.references if r in rows.drafts),
        first_rows={r: d.first_row for r, d in rows.drafts.items()},
    )


def _build(drafts: dict[str, _Draft], errors: _Errors) -> list[Case]:
    """Check the order of each case's session dates, then build every case with no problem."""
    cases = []
    for reference, draft in drafts.items():
        ordered = sorted(draft.sessions.items())
        latest: tuple[int, int, datetime.date] | None = None
        for number, (row, session) in ordered:
            date = session["date"]
            if date is None:
                continue
            if latest is not None and date < latest[2]:
                errors.add(
                    row,
                    "date",
                    f"{date} is before the date of session {latest[0]} ({latest[2]}, row "
                    f"{latest[1]})",
                    reference,
                )
            else:
                latest = (number, row, date)
        if reference in errors.references:
            continue
        # The rows were checked against the content above. The model checks types and order
        # again (without the content, which would double the time): a rule missed above still
        # stops the case.
        try:
            cases.append(
                Case.model_validate({**draft.fields, "sessions": [s for _, (_, s) in ordered]})
            )
        except ValidationError as exc:
            for where, message in _validation_problems(exc):
                errors.add(draft.first_row, where, message, reference)
    return cases


def conflicts_with_existing(report: ImportReport, existing_refs: Iterable[str]) -> list[RowError]:
    """A problem for each reference in the file that a stored case already uses."""
    existing = set(existing_refs)
    return [
        RowError(
            row=row,
            field="reference",
            message=f"a case with reference {reference} is already stored",
            reference=reference,
        )
        for reference, row in report.first_rows.items()
        if reference in existing
    ]
