"""The caseload file: every kind of bad row named with its row and column, JSON, and exports."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tailoring.demo import demo_cases
from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics
from tailoring.export.caseload import caseload_csv, cases_csv, notes_csv, template_csv
from tailoring.imports import caseload as caseload_module
from tailoring.imports.caseload import columns, conflicts_with_existing, parse_caseload
from tailoring.limits import CASELOAD_FILE_MB, MB
from tailoring.model.case import Case

DOC = Path(__file__).resolve().parents[2] / "docs" / "caseload-format.md"


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def as_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def template(content) -> list[list[str]]:
    return table(template_csv(content))


def with_cell(rows: list[list[str]], row: int, column: str, value: str) -> bytes:
    """The rows with one cell changed; ``row`` as a spreadsheet numbers it (header is 1)."""
    rows = [list(r) for r in rows]
    rows[row - 1][rows[0].index(column)] = value
    return as_csv(rows)


def only_error(report):
    assert len(report.errors) == 1, report.errors
    return report.errors[0]


# Clean files ------------------------------------------------------------------------------------


def test_the_template_parses_clean(content) -> None:
    report = parse_caseload(template_csv(content).encode(), "template.csv", content)

    assert report.clean and report.format == "csv"
    assert (report.rows_read, report.valid_cases) == (2, 1)
    case = report.cases[0]
    assert [s.kind for s in case.sessions] == ["assessment", "treatment"]
    assert case.sessions[0].measures["wsas"]["wsas_1"] == "na"
    assert case.sessions[1].alliance["bond"].value == 3
    assert Case.model_validate(case.model_dump(), context={"content": content}) == case


def test_the_template_has_every_column_in_order(content, template) -> None:
    header = template[0]
    assert header == columns(content)
    assert header[:12] == [
        "reference",
        "therapist",
        "protocol_id",
        "sessions_available",
        "anxiety_measure",
        "problem",
        "second_problem",
        "status",
        "session",
        "date",
        "attendance",
        "kind",
    ]
    assert header[12:21] == [f"phq9_{n}" for n in range(1, 10)]
    assert header[21:28] == [f"gad7_{n}" for n in range(1, 8)]
    assert header[28:48] == [f"pcl5_{n}" for n in range(1, 21)]
    assert header[48:53] == [f"wsas_{n}" for n in range(1, 6)]


def test_the_documented_example_parses_clean(content) -> None:
    example = re.search(r"```csv\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)

    report = parse_caseload(example.encode(), "example.csv", content)

    assert report.clean, report.errors
    assert [c.reference for c in report.cases] == ["EX-0001", "EX-0002"]
    assert report.cases[1].sessions == []
    assert example.splitlines()[0] == template_csv(content).splitlines()[0]


def test_demo_cases_round_trip_through_csv(content) -> None:
    cases = demo_cases(content, 120, seed=3)

    report = parse_caseload(cases_csv(cases, content).encode(), "demo.csv", content)

    assert report.clean, report.errors[:5]
    assert report.rows_read == sum(max(1, len(c.sessions)) for c in cases)
    for imported, original in zip(report.cases, cases, strict=True):
        assert imported.reference == original.reference
        assert imported.therapist == original.therapist
        assert imported.sessions == original.sessions
        # The import checks the content's rules itself; the model agrees.
        assert Case.model_validate(imported.model_dump(), context={"content": content})


def test_rows_of_a_case_may_come_in_any_order(content, template) -> None:
    header, first, second = template

    report = parse_caseload(as_csv([header, second, first]), "x.csv", content)

    assert report.clean
    assert [s.number for s in report.cases[0].sessions] == [1, 2]
    assert report.first_rows == {"EX-0001": 2}


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda t: "\ufeff" + t, id="byte-order mark"),
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="CRLF"),
        pytest.param(lambda t: t.replace(",", ";"), id="semicolons"),
        pytest.param(lambda t: t.replace(",", " , "), id="spaces around cells"),
        pytest.param(lambda t: t.replace("\n", "\n\n"), id="blank rows"),
    ],
)
def test_spreadsheet_variants_parse_clean(content, transform) -> None:
    report = parse_caseload(transform(template_csv(content)).encode(), "x.csv", content)

    assert report.clean, report.errors
    assert report.valid_cases == 1 and report.rows_read == 2


# Bad rows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (2, "reference", "", "required"),
        (2, "reference", "x", "letters, digits"),
        (2, "therapist", "", "required"),
        (2, "therapist", "T" * 81, "longer than 80"),
        (2, "protocol_id", "primal_scream", "unknown protocol 'primal_scream'"),
        (2, "sessions_available", "many", "expected a whole number 1–60, got 'many'"),
        (2, "sessions_available", "0", "0 is outside 1–60"),
        (2, "anxiety_measure", "bai", "unknown anxiety measure 'bai'"),
        (2, "anxiety_measure", "phq9", "unknown anxiety measure 'phq9'"),
        (2, "status", "closed", "expected one of active, archived"),
        (3, "session", "two", "expected a whole number 1–200"),
        (3, "session", "201", "201 is outside 1–200"),
        (3, "date", "12/01/2026", "expected a date as YYYY-MM-DD, got '12/01/2026'"),
        (3, "date", "2026-02-30", "2026-02-30 is not a date in the calendar"),
        (3, "date", "", "required"),
        (3, "attendance", "came", "expected one of attended, did_not_attend, cancelled"),
        (3, "kind", "", "expected one of assessment, assessment_and_treatment, treatment"),
        (3, "phq9_3", "7", "7 is outside 0–3"),
        (3, "phq9_3", "-1", "-1 is outside 0–3"),
        (3, "gad7_2", "two", "expected a whole number 0–3 or na where allowed, got 'two'"),
        (3, "gad7_2", "1.5", "expected a whole number 0–3"),
        (3, "phq9_1", "na", "'not applicable' (na) is not allowed on this item"),
        (3, "wsas_2", "9", "9 is outside 0–8"),
        (3, "alliance_rupture_withdrawal", "3", "3 is outside 0–2"),
        (3, "alliance_bond", "5", "5 is outside 0–4"),
        (3, "alliance_bond", "na", "'not applicable' (na) is not allowed"),
        (3, "note", "n" * 2001, "longer than 2000"),
    ],
)
def test_each_bad_cell_is_named_by_row_and_column(
    content, template, row, column, value, message
) -> None:
    # A case column is repeated on every row of its case: change it on every row.
    rows = [list(r) for r in template]
    for number in (2, 3) if row == 2 else (row,):
        rows[number - 1][rows[0].index(column)] = value

    report = parse_caseload(as_csv(rows), "x.csv", content)

    expected = (
        [(2, column), (3, column)] if (column, value) == ("reference", "") else [(row, column)]
    )
    assert [(e.row, e.field) for e in report.errors] == expected
    error = report.errors[0]
    assert message in error.message
    assert not error.file_level and not report.blocked
    assert report.valid_cases == 0 and report.valid_only() == []


def test_a_later_row_that_contradicts_the_case_is_named(content, template) -> None:
    report = parse_caseload(with_cell(template, 3, "protocol_id", "ipt"), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field, error.reference) == (3, "protocol_id", "EX-0001")
    assert "'ipt' differs from 'ba_step2' on row 2" in error.message
    assert report.invalid_references == ["EX-0001"]


def test_an_empty_anxiety_measure_is_the_default_not_a_contradiction(content, template) -> None:
    report = parse_caseload(with_cell(template, 3, "anxiety_measure", ""), "x.csv", content)

    assert report.clean
    assert report.cases[0].anxiety_measure == "gad7"


def test_a_repeated_session_number_is_named(content, template) -> None:
    report = parse_caseload(with_cell(template, 3, "session", "1"), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field) == (3, "session")
    assert "session 1 of EX-0001 is already on row 2" in error.message


def test_a_session_dated_before_an_earlier_session_is_named(content, template) -> None:
    report = parse_caseload(with_cell(template, 3, "date", "2026-01-01"), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field) == (3, "date")
    assert "2026-01-01 is before the date of session 1 (2026-01-05, row 2)" in error.message


def test_session_columns_without_a_session_number_are_named(content, template) -> None:
    report = parse_caseload(with_cell(template, 3, "session", ""), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field) == (3, "session")
    assert "session number is empty" in error.message


def test_a_row_with_too_many_cells_is_named(content, template) -> None:
    rows = [list(r) for r in template]
    rows[2].append("extra")

    report = parse_caseload(as_csv(rows), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field) == (3, "row")
    assert f"{len(rows[0]) + 1} cells" in error.message


def test_a_short_row_is_read_as_empty_cells(content, template) -> None:
    rows = [list(r) for r in template]
    rows[2] = rows[2][: rows[0].index("alliance_goals_agreement")]

    report = parse_caseload(as_csv(rows), "x.csv", content)

    assert report.clean and report.cases[0].sessions[1].alliance == {}


def test_several_problems_on_one_row_are_all_named(content, template) -> None:
    rows = [list(r) for r in template]
    for column, value in (("phq9_1", "9"), ("gad7_1", "9"), ("kind", "group")):
        rows[2][rows[0].index(column)] = value

    report = parse_caseload(as_csv(rows), "x.csv", content)

    assert {(e.row, e.field) for e in report.errors} == {(3, "phq9_1"), (3, "gad7_1"), (3, "kind")}


def test_rows_are_numbered_as_a_spreadsheet_shows_them(content, template) -> None:
    rows = [list(r) for r in template]
    rows[1][rows[0].index("note")] = "one line\nand another"  # still one row
    rows[2][rows[0].index("phq9_2")] = "4"
    text = as_csv(rows).decode().replace("\nEX-0001", "\n\nEX-0001", 1)  # a blank row 3

    report = parse_caseload(text.encode(), "x.csv", content)

    assert [(e.row, e.field) for e in report.errors] == [(4, "phq9_2")]


def test_the_service_s_reference_rules_apply(content, template) -> None:
    rows = [list(r) for r in template]
    for r in rows[1:]:
        r[0] = "Jane.Smith"

    def no_names(reference: str) -> list[str]:
        return [] if any(c.isdigit() for c in reference) else ["include at least one digit"]

    report = parse_caseload(as_csv(rows), "x.csv", content, check_reference=no_names)

    error = only_error(report)  # named once, on the case's first row
    assert (error.row, error.field, error.message) == (2, "reference", "include at least one digit")


# The header -------------------------------------------------------------------------------------


def test_a_missing_required_column_is_one_file_level_problem(content, template) -> None:
    at = template[0].index("protocol_id")
    rows = [r[:at] + r[at + 1 :] for r in template]

    report = parse_caseload(as_csv(rows), "x.csv", content)

    error = only_error(report)
    assert (error.row, error.field) == (1, "protocol_id")
    assert error.message == "missing required column: protocol_id"
    assert error.file_level and report.blocked
    assert report.rows_read == 0 and report.valid_only() == []


def test_several_missing_columns_are_named_together(content, template) -> None:
    keep = [i for i, name in enumerate(template[0]) if name not in ("date", "kind")]
    rows = [[r[i] for i in keep] for r in template]

    error = only_error(parse_caseload(as_csv(rows), "x.csv", content))

    assert error.message == "missing required columns: date, kind"


def test_optional_columns_may_be_left_out(content, template) -> None:
    keep = [i for i, name in enumerate(template[0]) if name in caseload_module.REQUIRED]
    rows = [[r[i] for i in keep] for r in template]

    report = parse_caseload(as_csv(rows), "x.csv", content)

    assert report.clean
    assert report.cases[0].sessions[0].measures == {}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("phq9_10", "unknown column"),
        ("atendance", "did you mean 'attendance'?"),
        ("session", "the column appears twice"),
        ("", "a column has no name"),
    ],
)
def test_an_unknown_or_repeated_column_blocks_the_file(content, template, name, message) -> None:
    rows = [[*r, ""] for r in template]
    rows[0][-1] = name

    report = parse_caseload(as_csv(rows), "x.csv", content)

    error = only_error(report)
    assert error.row == 1 and error.file_level and message in error.message
    assert report.blocked and report.valid_only() == []
    assert report.valid_cases == 1  # the rows were still checked


# Valid cases only -------------------------------------------------------------------------------


@pytest.fixture
def two_cases(content) -> list[list[str]]:
    rows = table(cases_csv(demo_cases(content, 2, seed=1), content))
    assert {r[0] for r in rows[1:]} == {"DEMO-10001", "DEMO-10002"}
    return rows


def test_valid_only_leaves_out_a_case_with_any_bad_row(content, two_cases) -> None:
    last = max(i for i, r in enumerate(two_cases) if r[0] == "DEMO-10002") + 1
    report = parse_caseload(with_cell(two_cases, last, "sessions_available", "99"), "x", content)

    assert not report.clean and not report.blocked
    assert report.invalid_references == ["DEMO-10002"]
    assert [c.reference for c in report.valid_only()] == ["DEMO-10001"]
    assert report.errors[0].reference == "DEMO-10002"


def test_references_already_stored_are_conflicts(content, two_cases) -> None:
    report = parse_caseload(as_csv(two_cases), "x.csv", content)

    conflicts = conflicts_with_existing(report, {"DEMO-10002", "OTHER-1"})

    assert [(e.row, e.field, e.reference) for e in conflicts] == [
        (report.first_rows["DEMO-10002"], "reference", "DEMO-10002")
    ]
    assert "already stored" in conflicts[0].message
    assert [c.reference for c in report.valid_only(conflicts)] == ["DEMO-10001"]


def test_only_the_first_problems_are_kept_but_all_are_counted(
    content, template, monkeypatch
) -> None:
    monkeypatch.setattr(caseload_module, "MAX_ERRORS", 3)
    rows = [template[0]] + [
        [f"EX-{n:04d}", *template[1][1:3], "many", *template[1][4:]] for n in range(10)
    ]

    report = parse_caseload(as_csv(rows), "x.csv", content)

    assert report.errors_total == 10 and len(report.errors) == 3
    assert len(report.invalid_references) == 10


# The file as a whole ----------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_refused(content) -> None:
    data = template_csv(content).replace("A. Therapist", "Zoë Ärzt").encode("latin-1")

    report = parse_caseload(data, "caseload.csv", content)

    error = only_error(report)
    assert (error.row, error.field, error.file_level) == (None, "file", True)
    assert "not UTF-8" in error.message and "CSV UTF-8" in error.message
    assert report.blocked and report.format is None


def test_a_file_over_the_size_limit_is_refused(content) -> None:
    report = parse_caseload(b"x" * (CASELOAD_FILE_MB * MB + 1), "caseload.csv", content)

    error = only_error(report)
    assert error.file_level and "the limit is 50 MB" in error.message


def test_a_file_over_the_row_limit_is_refused(content, template, monkeypatch) -> None:
    monkeypatch.setattr(caseload_module, "MAX_ROWS", 1)

    report = parse_caseload(as_csv(template), "caseload.csv", content)

    error = only_error(report)
    assert error.file_level and "more than 1 rows" in error.message
    assert report.valid_only() == []


@pytest.mark.parametrize("data", [b"", b"  \n\n"])
def test_an_empty_file_is_refused(content, data) -> None:
    assert "empty" in only_error(parse_caseload(data, "x.csv", content)).message


# JSON -------------------------------------------------------------------------------------------


def test_a_json_list_of_case_files_is_imported_whole(content) -> None:
    cases = demo_cases(content, 5, seed=2)
    data = json.dumps([c.model_dump(mode="json") for c in cases]).encode()

    report = parse_caseload(data, "caseload.json", content)

    assert report.clean and report.format == "json"
    assert report.cases == cases  # answers included
    assert report.rows_read == 5


def test_json_is_recognised_by_content_and_one_case_file_is_accepted(content) -> None:
    case = demo_cases(content, 1, seed=2)[0]

    report = parse_caseload(case.model_dump_json().encode(), "upload", content)

    assert report.format == "json" and report.cases == [case]


def test_a_bad_json_case_is_named_by_position_and_field(content) -> None:
    cases = [c.model_dump(mode="json") for c in demo_cases(content, 12, seed=2)]
    scored = next(
        i
        for i, c in enumerate(cases)
        if any("phq9" in s.get("measures", {}) for s in c["sessions"])
    )
    at = next(i for i, s in enumerate(cases[scored]["sessions"]) if "phq9" in s.get("measures", {}))
    cases[scored]["sessions"][at]["measures"]["phq9"]["phq9_3"] = 7
    other = 0 if scored else 1
    cases[other]["protocol_id"] = "primal_scream"

    report = parse_caseload(json.dumps(cases).encode(), "caseload.json", content)

    assert {(e.row, e.field) for e in report.errors} == {
        (scored + 1, f"sessions.{at}.measures.phq9.phq9_3"),
        (other + 1, "protocol_id"),
    }
    assert "7 is outside 0–3" in " ".join(e.message for e in report.errors)
    assert len(report.valid_only()) == len(cases) - 2


def test_a_repeated_json_reference_excludes_both(content) -> None:
    case = demo_cases(content, 1, seed=2)[0].model_dump(mode="json")

    report = parse_caseload(json.dumps([case, case]).encode(), "x.json", content)

    error = only_error(report)
    assert (error.row, error.field) == (2, "reference")
    assert "is also case 1" in error.message
    assert report.valid_only() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{]", "Not valid JSON (line 1, column 3)"),
        ('"a string"', "Expected a JSON list of case files"),
    ],
)
def test_json_that_cannot_be_read_is_refused(content, text, message) -> None:
    error = only_error(parse_caseload(text.encode(), "x.json", content))

    assert error.file_level and message in error.message


def test_a_json_entry_that_is_not_an_object_is_named(content) -> None:
    error = only_error(parse_caseload(b"[1]", "x.json", content))

    assert (error.row, error.field) == (1, "case")


# Exports ----------------------------------------------------------------------------------------


def test_exports_defuse_spreadsheet_formulas() -> None:
    text = notes_csv(
        [
            {"author": '=HYPERLINK("x")', "text": "+1 call", "status": "open", "n": -3},
            {"author": "S. Lee", "text": "@team", "status": "done", "n": 2},
        ]
    )

    rows = table(text)
    assert rows[0] == ["author", "text", "status", "n"]
    assert rows[1] == ['\'=HYPERLINK("x")', "'+1 call", "open", "-3"]
    assert rows[2][1] == "'@team"


def test_the_caseload_table_exports_as_csv(content) -> None:
    cases = demo_cases(content, 3, seed=5)
    rows = [case_metrics(assess(content, c), c).table_row() for c in cases]

    exported = table(caseload_csv(rows))

    assert exported[0][:3] == ["therapist", "reference", "protocol"]
    assert [r[1] for r in exported[1:]] == [c.reference for c in cases]


@pytest.mark.parametrize(("cell", "kept"), [("ptsd", "ptsd"), ("", None)])
def test_the_problem_column_is_read_and_optional(content, template, cell, kept) -> None:
    at = template[0].index("problem")
    rows = [template[0], *([*r[:at], cell, *r[at + 1 :]] for r in template[1:])]
    report = parse_caseload(as_csv(rows), "x.csv", content)
    assert not report.errors
    assert [c.problem for c in report.cases] == [kept]


def test_an_unknown_problem_is_named_by_row_and_column(content, template) -> None:
    at = template[0].index("problem")
    rows = [template[0], *([*r[:at], "grief", *r[at + 1 :]] for r in template[1:])]
    report = parse_caseload(as_csv(rows), "x.csv", content)
    assert (report.errors[0].row, report.errors[0].field) == (2, "problem")
    assert "unknown problem 'grief'" in report.errors[0].message
