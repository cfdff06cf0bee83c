"""Importing a caseload file (CSV or JSON): check every row, then store the cases."""

from __future__ import annotations

import json
import re

from tailoring import access
from tailoring.demo import FIRST_REFERENCE, demo_cases, demo_reference
from tailoring.export.caseload import problems_csv, template_csv
from tailoring.imports.caseload import (
    MAX_ERRORS,
    collector_paused,
    conflicts_with_existing,
    parse_caseload,
)
from tailoring.model.case import (
    REFERENCE_PATTERN,
)
from tailoring.model.caseload import ImportReport, RowError
from tailoring.services.cases import reference_problems
from tailoring.services.shared import (
    CaseFileError,
    content,
    current_actor,
    current_user,
    unit_of_work,
)


def check_caseload_file(filename: str, data: bytes) -> ImportReport:
    """Check every row of a caseload file (CSV or JSON) and build its valid cases; store nothing.

    The rules are the import format's (docs/caseload-format.md), this service's rules for
    references (``reference_problems``), and that no stored case uses the reference yet.
    """
    report = parse_caseload(data, filename, content(), reference_problems)
    if report.blocked or not report.first_rows:
        return report
    # Only a well-formed reference can be stored; asking the database about one with a NUL in
    # it made PostgreSQL refuse the query ("database cannot be used right now").
    possible = [r for r in report.first_rows if re.fullmatch(REFERENCE_PATTERN, r)]
    with unit_of_work() as uow:
        taken = uow.caseload.taken_references(possible)
    conflicts = conflicts_with_existing(report, taken)
    return _with_problems(report, [*conflicts, *_creation_refused(report)])


def _creation_refused(report: ImportReport) -> list[RowError]:
    """A problem on the therapist of each case the current actor may not create.

    Checked with the file, not only at the import, so the report shows the row and the field to
    change instead of one refusal of the whole import that names neither.
    """
    actor = current_actor()
    refused = [
        case
        for case in report.cases
        if not access.allowed(actor, "case.create", case.therapist, "case")
    ]
    if not refused:
        return []
    if access.allowed(actor, "case.create", actor.username, "case"):
        reason = f"you can import cases for yourself ({actor.username}) only: change the therapist"
    else:
        reason = "your account's roles do not allow creating cases: ask a therapist to import it"
    return [
        RowError(
            row=report.first_rows[case.reference],
            field="therapist",
            message=f"this case is for {case.therapist}, and {reason}",
            reference=case.reference,
        )
        for case in refused
    ]


def _with_problems(report: ImportReport, problems: list[RowError]) -> ImportReport:
    """The report with more problems, each taking its case out of those to import."""
    if not problems:
        return report
    refused = {problem.reference for problem in problems}
    errors = sorted([*report.errors, *problems], key=lambda e: (e.row is not None, e.row or 0))
    return report.model_copy(
        update={
            "cases": [case for case in report.cases if case.reference not in refused],
            "errors": errors[:MAX_ERRORS],
            "errors_total": report.errors_total + len(problems),
            "invalid_references": sorted({*report.invalid_references, *refused}),
        }
    )


def import_caseload(report: ImportReport, valid_only: bool = False) -> list[int]:
    """Store the cases of a checked caseload file in one transaction; return their ids.

    A file with problems is imported only with ``valid_only`` (then only the cases with no
    problem in any row), a file with a problem in its encoding or header never (CaseFileError).
    ReferenceTaken, with nothing stored, if a case took one of the references since the check.
    Figures are left to ``compute_pending_figures``: at several milliseconds a case, computing
    them here would make a large import take minutes.
    """
    if report.blocked:
        raise CaseFileError([e.message for e in report.errors if e.file_level])
    if not report.clean and not valid_only:
        raise CaseFileError(
            [
                f"the file has {report.errors_total:,} problems: fix them, or import only the "
                f"{report.valid_cases:,} valid cases"
            ]
        )
    cases = report.valid_only()
    actor = current_actor()
    for therapist in sorted({case.therapist for case in cases}):
        access.require(actor, "case.create", therapist, "case")
    # Storing builds a few million small tuples; the collector's passes over the cases held in
    # memory (the report's) took most of the time, as they did when reading the file.
    with collector_paused(), unit_of_work() as uow:
        ids = uow.caseload.import_cases(cases)
        if ids:
            uow.record(current_user(), "created", detail=f"caseload import: {len(ids)} cases")
    return ids


def caseload_template() -> str:
    """A caseload file to start from: the CSV header and two example rows of one invented case."""
    return template_csv(content())


def import_problems_csv(report: ImportReport) -> str:
    """Every problem an import report lists, as CSV for a spreadsheet."""
    return problems_csv(report.errors)


def store_demo_caseload(cases: int, seed: int = 0) -> list[int]:
    """Invent ``cases`` demo cases and store them through the caseload import; return their ids.

    References run DEMO-10001 upwards, starting further up (in steps of ``cases``) while any of
    them is taken, so the demo can be stored again. Figures are left to ``compute_figures``.
    """
    first = FIRST_REFERENCE
    with unit_of_work() as uow:
        while uow.caseload.taken_references(demo_reference(first + i) for i in range(cases)):
            first += cases
    invented = demo_cases(content(), cases, seed, first)
    data = json.dumps([case.model_dump(mode="json") for case in invented]).encode()
    report = check_caseload_file("demo.json", data)
    if not report.clean:
        raise CaseFileError([f"case {e.row}, {e.field}: {e.message}" for e in report.errors])
    return import_caseload(report)
