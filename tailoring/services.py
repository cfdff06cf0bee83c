"""The use cases that pages and the command line call: cases, answers, assessment and exports."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from tailoring.content import content_dir, library
from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics, caseload_summary
from tailoring.engine.grading import grade, reference_flag_problems, theme_scores
from tailoring.engine.identifiers import FoundIdentifier, find_identifiers, redact
from tailoring.export import fhir, summary_pdf
from tailoring.export.caseload import (
    MAX_ERRORS,
    collector_paused,
    conflicts_with_existing,
    notes_csv,
    parse_caseload,
)
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.report_json import report_json
from tailoring.export.review_pdf import case_review_pdf
from tailoring.export.tables import csv_text
from tailoring.model.case import (
    REFERENCE_PATTERN,
    AllianceAnswer,
    Case,
    PreferenceAnswer,
    Section,
    SocialAnswer,
    WalkStep,
    answer_problems,
)
from tailoring.model.caseload import CaseloadSummary, CaseMetrics, ImportReport
from tailoring.model.content import ContentLibrary
from tailoring.model.grade import Grade
from tailoring.model.report import FitReport
from tailoring.model.scenario import Scenario
from tailoring.model.session import Session
from tailoring.storage.db import database_url, make_engine
from tailoring.storage.errors import (
    CaseNotFound,
    NoteNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StaleNote,
    StaleSession,
    StorageError,
    StorageUnavailable,
)
from tailoring.storage.repository import (
    AttemptSummary,
    CaseFigures,
    CaseloadStamp,
    CaseRepository,
    CaseSummary,
    Correction,
    FlagDecision,
    FlagEvent,
    FlagEventKind,
    FlagState,
    NoteStatus,
    NoteVersion,
    StoredCase,
    SupervisionNote,
    open_flags,
)

__all__ = [
    "CaseFileError",
    "CaseNotFound",
    "CaseSummary",
    "CaseloadStamp",
    "FhirError",
    "NoteNotFound",
    "ReferenceTaken",
    "StaleAnswer",
    "StaleCase",
    "StaleNote",
    "StaleSession",
    "StorageError",
    "StorageUnavailable",
    "StoredCase",
]

log = logging.getLogger(__name__)
BACKFILL_PER_START = 25
# Cases whose figures are computed in one batch: a second or two of assessing them.
FIGURES_BATCH = 200
# The caseload's columns its table and filters show, read first; then what its charts add.
TABLE_FIELDS = (
    "id",
    "reference",
    "therapist",
    "protocol_id",
    "status",
    "last_session",
    "sessions_attended",
    "fit",
    "flags_high",
    "flags_medium",
    "flags_low",
    "alliance_trend",
    "outcome",
)
FIGURE_FIELDS = (
    "id",
    "sessions_available",
    "sessions",
    "completeness",
    "alliance_latest",
    "treatment_sessions_attended",
    "dropped_after_first",
    "caseness_at_start",
    "finished",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
    "open_flag_ids",
)
_demo_checked: set[str] = set()
FLAG_TITLE_LENGTH = 200
ANSWER_MODELS = {
    "preferences": PreferenceAnswer,
    "social": SocialAnswer,
    "alliance": AllianceAnswer,
}


class CaseFileError(ValueError):
    """A case file or case form that does not validate; ``problems`` name each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def content() -> ContentLibrary:
    """The validated content library (raises ContentError naming the file and field)."""
    return library()


@lru_cache(maxsize=4)
def _repository(url: str) -> CaseRepository:
    return CaseRepository(make_engine(url))


def repository() -> CaseRepository:
    """The repository of the configured database (TAILORING_DATABASE_URL, SQLite by default)."""
    return _repository(database_url())


def start(load_demo: bool | None = None) -> None:
    """Prepare storage (migrations run on connect); load the demo cases into an empty database.

    The app calls this on every rerun: the demo cases load at most once per database and process,
    so deleting every case does not bring them back on the next click.
    """
    repo = repository()
    if load_demo is None:
        load_demo = os.environ.get("TAILORING_DEMO", "1") != "0"
    url = database_url()
    if url not in _demo_checked:
        _demo_checked.add(url)
        if load_demo and repo.count() == 0:
            for path in demo_case_paths():
                repo.create(parse_case_file(path.read_text(encoding="utf-8")))
    # Cases stored before their figures were kept (or imported in bulk) get them a few at a time.
    for case_id in repo.cases_without_metrics(BACKFILL_PER_START):
        refresh_case(case_id)


# Cases ---------------------------------------------------------------------------------------


def reference_problems(reference: str) -> list[str]:
    """Why a case reference cannot be used; references must be pseudonymous codes, not names."""
    reference = reference.strip()
    if not re.fullmatch(REFERENCE_PATTERN, reference):
        return ["Use 2–32 letters, digits, dots or dashes, starting with a letter or digit."]
    if not any(c.isdigit() for c in reference):
        return ["Include at least one digit (e.g. TT-0423), so a reference cannot be a name."]
    if re.fullmatch(r"\d{10}", reference.replace("-", "").replace(".", "")):
        return ["That looks like an NHS number. Use your service's pseudonymous case code."]
    return []


def new_case(reference: str, protocol_id: str, sessions_available: int) -> int:
    """Create an empty case; raise CaseFileError or ReferenceTaken with a clear message."""
    problems = reference_problems(reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    case = _validated(
        {
            "reference": reference.strip(),
            "protocol_id": protocol_id,
            "sessions_available": sessions_available,
        }
    )
    case_id = repository().create(case)
    refresh_case(case_id)
    return case_id


def list_cases(include_archived: bool = False) -> list[CaseSummary]:
    return repository().list(include_archived=include_archived)


def open_case(case_id: int) -> StoredCase:
    return repository().get(case_id)


def update_case(case_id: int, expected_version: int | None = None, **fields: Any) -> None:
    """Change the planned protocol, sessions available, anxiety measure, step, status, reference."""
    if "anxiety_measure" in fields:
        measure = fields["anxiety_measure"]
        if measure not in {m.id for m in content().measures if m.role == "anxiety"}:
            raise CaseFileError([f"anxiety_measure: {measure!r} is not an anxiety measure"])
    if "reference" in fields:
        problems = reference_problems(fields["reference"])
        if problems:
            raise CaseFileError([f"reference: {p}" for p in problems])
    if "protocol_id" in fields:
        content().protocol(fields["protocol_id"])
    repository().update_case(case_id, expected_version, **fields)
    refresh_case(case_id)


def set_step(case_id: int, step: WalkStep) -> None:
    repository().update_case(case_id, None, step=step)


def archive_case(case_id: int, archived: bool = True) -> None:
    repository().update_case(case_id, None, status="archived" if archived else "active")


def duplicate_case(case_id: int, new_reference: str) -> int:
    problems = reference_problems(new_reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    copy_id = repository().duplicate(case_id, new_reference.strip())
    refresh_case(copy_id)
    return copy_id


def delete_case(case_id: int) -> None:
    repository().delete(case_id)


# Identifiers in free text -------------------------------------------------------------------

IDENTIFIER_WORDS = {
    "nhs_number": "an NHS number",
    "email": "an email address",
    "phone": "a phone number",
    "postcode": "a postcode",
    "date_of_birth": "a date that may be a date of birth",
}


class IdentifiersFound(ValueError):
    """Free text that seems to hold identifiers: nothing was saved.

    ``texts`` are the fields as given and ``found`` what was found in each. The message names
    the kinds only, never the text, so it is safe to show and to log.
    """

    def __init__(self, texts: dict[str, str], found: dict[str, list[FoundIdentifier]]) -> None:
        self.texts = texts
        self.found = found
        kinds = sorted({IDENTIFIER_WORDS[f.kind] for items in found.values() for f in items})
        listed = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        super().__init__(
            f"This text seems to contain {listed}. Records here must not identify anyone: "
            "remove it, or save as written if it is not an identifier."
        )

    def redacted(self) -> dict[str, str]:
        """Every field with what was found replaced by a label such as [NHS number removed]."""
        return {
            field: redact(text, self.found[field]) if field in self.found else text
            for field, text in self.texts.items()
        }


def check_identifiers(texts: dict[str, str]) -> None:
    """IdentifiersFound if any of the texts seems to hold an identifier."""
    found = {field: items for field, text in texts.items() if (items := find_identifiers(text))}
    if found:
        raise IdentifiersFound(texts, found)


# Answers -------------------------------------------------------------------------------------


def save_answer(
    case_id: int,
    section: Section,
    item_id: str,
    answer: dict[str, Any],
    expected_revision: int | None = None,
    allow_identifiers: bool = False,
) -> int:
    """Validate one answer against the content and save it; returns its new revision.

    A social-context note is checked for identifiers first (IdentifiersFound) unless
    ``allow_identifiers`` says the user saw the warning and keeps the text as written.
    """
    model = ANSWER_MODELS[section]
    if section == "social" and not allow_identifiers:
        check_identifiers({"note": answer.get("note") or ""})
    try:
        parsed = model.model_validate(answer)
    except ValidationError as exc:
        raise CaseFileError(_problems(exc, f"answers.{section}.{item_id}")) from None
    problems = answer_problems(content(), section, item_id, parsed)
    if problems:
        raise CaseFileError(problems)
    revision = repository().save_answer(case_id, section, item_id, parsed, expected_revision)
    refresh_case(case_id)
    return revision


def clear_answer(case_id: int, section: Section, item_id: str) -> None:
    repository().clear_answer(case_id, section, item_id)
    refresh_case(case_id)


# Assessment and exports ----------------------------------------------------------------------


def assess_case(case: Case) -> FitReport:
    return assess(content(), case)


def report_pdf(report: FitReport, on: date | None = None) -> bytes:
    return session_plan_pdf(report, on or date.today())


def report_as_json(report: FitReport) -> str:
    return report_json(report)


def case_file(case: Case) -> str:
    """The case in the documented case-file format (JSON)."""
    return case.model_dump_json(indent=2, exclude_defaults=False)


def parse_case_file(text: str) -> Case:
    """Parse and validate a case file against the content; CaseFileError names every field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseFileError([f"not valid JSON (line {exc.lineno}, column {exc.colno})"]) from None
    if not isinstance(data, dict):
        raise CaseFileError(["expected a JSON object at the top level"])
    return _validated(data)


def case_schema() -> dict[str, Any]:
    return Case.model_json_schema()


def _validated(data: dict[str, Any]) -> Case:
    try:
        return Case.model_validate(data, context={"content": content()})
    except ValidationError as exc:
        raise CaseFileError(_problems(exc)) from None


def _problems(exc: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        message = str(err["msg"]).removeprefix("Value error, ")
        if loc:
            problems.append(f"{loc}: {message}")
        else:
            problems.extend(message.split("; "))
    return problems


def demo_case_paths() -> list[Path]:
    """The invented demo cases shipped with the content."""
    return sorted((content_dir() / "demo").glob("*.json"))


# Trainee practice ----------------------------------------------------------------------------


def scenarios() -> list[Scenario]:
    """The teaching scenarios, in file-name order."""
    return content().scenarios


def scenario(scenario_id: str) -> Scenario:
    """One teaching scenario; KeyError naming the id when there is none."""
    return content().scenario(scenario_id)


def grade_attempt(scenario_id: str, case: Case) -> Grade:
    """Grade a trainee's answers (a case) against a scenario's reference answers and flags."""
    return grade(content(), scenario(scenario_id), case)


def scenario_flag_problems(lib: ContentLibrary) -> list[str]:
    """Scenarios whose reference flags no longer match what the engine raises, by file."""
    return [
        f"scenarios/{s.id}.yaml: {problem}"
        for s in lib.scenarios
        for problem in reference_flag_problems(lib, s)
    ]


# Sessions ------------------------------------------------------------------------------------


def current_user() -> str:
    """Who is acting, for correction records: TAILORING_USER, else the one local user."""
    return os.environ.get("TAILORING_USER", "local user")[:80]


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
    if not allow_identifiers:
        check_identifiers({"note": session.get("note") or ""})
    try:
        parsed = Session.model_validate(session)
    except ValidationError as exc:
        raise CaseFileError(_problems(exc, f"sessions.{session.get('number', '?')}")) from None
    stored = repository().get(case_id)
    others = [s for s in stored.case.sessions if s.number != parsed.number]
    sessions = sorted([*others, parsed], key=lambda s: s.number)
    case = _validated({**stored.case.model_dump(), "sessions": [s.model_dump() for s in sessions]})
    report = assess(content(), case)
    revision = repository().save_session(
        case_id, parsed, report.overall_fit, current_user(), expected_revision
    )
    if stored.kind == "case":
        _store_figures(case_id, case, report)
    return revision


def remove_session(case_id: int, number: int, expected_revision: int | None = None) -> None:
    repository().delete_session(case_id, number, current_user(), expected_revision)
    refresh_case(case_id)


def session_history(case_id: int) -> list[Correction]:
    """Every correction to the case's sessions, oldest first."""
    return repository().corrections(case_id)


def fit_over_sessions(stored: StoredCase, now: float | None) -> list[tuple[str, float | None]]:
    """The fit recorded with each session, then the fit now: how it changed since the start."""
    points = [(f"Session {n}", stored.session_fits.get(n)) for n in sorted(stored.session_fits)]
    return [*points, ("Now", now)]


# Practice ------------------------------------------------------------------------------------


def start_attempt(scenario_id: str) -> int:
    """A new, empty attempt at a scenario, kept apart from real cases."""
    chosen = scenario(scenario_id)
    number = len(repository().list_attempts(scenario_id)) + 1
    while True:
        attempt = _validated(
            {
                "reference": f"T{number}-{chosen.id}"[:32],
                "protocol_id": chosen.protocol_id,
                "sessions_available": chosen.sessions_available,
            }
        )
        try:
            return repository().create(attempt, kind="attempt", scenario_id=chosen.id)
        except ReferenceTaken:
            number += 1


def submit_attempt(attempt_id: int) -> Grade:
    """Grade an attempt against its scenario's reference and keep the grade."""
    stored = repository().get(attempt_id)
    if stored.kind != "attempt" or stored.scenario_id is None:
        raise CaseFileError(["this is a real case, not a practice attempt"])
    result = grade_attempt(stored.scenario_id, stored.case)
    repository().save_grade(attempt_id, result)
    return result


def attempts(scenario_id: str | None = None) -> list[AttemptSummary]:
    """Practice attempts, newest first (never real cases)."""
    return repository().list_attempts(scenario_id)


def attempt_grade(attempt_id: int) -> Grade | None:
    return repository().grade(attempt_id)


def practice_progress() -> list[dict[str, Any]]:
    """One row per graded attempt, oldest first: marks and the score on each theme."""
    lib = content()
    rows = []
    for summary in reversed(attempts()):
        result = attempt_grade(summary.id)
        if result is None or summary.graded_at is None:
            continue
        scores = theme_scores(result)
        rows.append(
            {
                "attempt": summary.reference,
                "scenario": result.scenario_title,
                "graded": summary.graded_at.strftime("%Y-%m-%d %H:%M"),
                "mark": result.mark,
                "items": result.item_score,
                "flags": result.flag_score,
                "precision": round(result.flags.precision, 2),
                "recall": round(result.flags.recall, 2),
                **{lib.theme(t).title: scores.get(t) for t in (th.id for th in lib.themes)},
            }
        )
    return rows


def progress_csv(rows: list[dict[str, Any]]) -> str:
    return csv_text(rows)


# Caseload ------------------------------------------------------------------------------------


def refresh_case(case_id: int) -> None:
    """Recompute a real case's caseload figures and record which flags it raises now.

    Called after every change to a case, so the caseload reads stored figures in one query and
    the flag history knows when each flag was raised and cleared.
    """
    stored = repository().get(case_id)
    if stored.kind == "case":
        _store_figures(case_id, stored.case, assess(content(), stored.case))


def _store_figures(case_id: int, case: Case, report: FitReport) -> None:
    """Keep the caseload figures and the flag history of a case and its current report."""
    metrics, current = _figures(case, report)
    repository().save_metrics(case_id, metrics)
    repository().sync_flags(case_id, current, current_user())


def _figures(case: Case, report: FitReport) -> tuple[CaseMetrics, tuple[FlagState, ...]]:
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
    for stored in repository().get_many(case_ids):
        if stored.kind == "case":
            metrics, flags = _figures(stored.case, assess(content(), stored.case))
            figures.append(CaseFigures(stored.id, stored.version, metrics, flags))
    return len(repository().save_figures(figures, current_user()))


def compute_pending_figures(limit: int = FIGURES_BATCH) -> int:
    """Compute the figures of up to ``limit`` cases that have none yet (imported ones), oldest
    first; return how many were stored, 0 when no case is waiting."""
    return compute_figures(repository().cases_without_metrics(limit))


def caseload_stamp() -> CaseloadStamp:
    """A cheap key that moves whenever the caseload does, and how many cases wait for figures."""
    return repository().caseload_stamp()


def check_caseload_file(filename: str, data: bytes) -> ImportReport:
    """Check every row of a caseload file (CSV or JSON) and build its valid cases; store nothing.

    The rules are the import format's (docs/caseload-format.md), this service's rules for
    references (``reference_problems``), and that no stored case uses the reference yet.
    """
    report = parse_caseload(data, filename, content(), reference_problems)
    if report.blocked or not report.first_rows:
        return report
    conflicts = conflicts_with_existing(report, repository().taken_references(report.first_rows))
    if not conflicts:
        return report
    taken = {conflict.reference for conflict in conflicts}
    errors = sorted([*report.errors, *conflicts], key=lambda e: (e.row is not None, e.row or 0))
    return report.model_copy(
        update={
            "cases": [case for case in report.cases if case.reference not in taken],
            "errors": errors[:MAX_ERRORS],
            "errors_total": report.errors_total + len(conflicts),
            "invalid_references": sorted({*report.invalid_references, *taken}),
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
    return repository().import_cases(report.valid_only())


def flag_history(case_id: int) -> list[FlagEvent]:
    """When each flag of the case was raised or cleared, and what people decided, oldest first."""
    return repository().flag_history(case_id)


def caseload_frame(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The stored caseload figures as the engine's caseload frame (one row per real case).

    Cases whose figures were never computed are left out until they are (``caseload_stamp``
    counts them). The frame is ``caseload_table`` with ``caseload_figures`` added.
    """
    table = caseload_table(include_archived, therapist)
    return with_figures(table, caseload_figures(include_archived, therapist))


def caseload_table(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """What the caseload's table and filters show, one row per case with figures, by id.

    Read apart from the charts' figures, so that the table of a large caseload shows first.
    """
    with collector_paused():
        frame = _frame(repository().caseload_columns(TABLE_FIELDS, include_archived, therapist))
    names = {p.id: p.name for p in content().protocols}
    frame["protocol_name"] = frame["protocol_id"].map(names).fillna(frame["protocol_id"])
    frame["last_session_date"] = frame["last_session"]
    frame["fit"] = pd.to_numeric(frame["fit"], errors="coerce").astype(float)
    return frame


def caseload_figures(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The rest of the engine's caseload frame for the same cases, by id: what the charts add.

    ``open_flags`` lists each case's open flags; cases with the same flags share one list (the
    stored text is parsed once), so the lists are for reading only.
    """
    with collector_paused():
        columns = repository().caseload_columns(FIGURE_FIELDS, include_archived, therapist)
        texts = columns.pop("open_flag_ids")
        parsed = {text: list(open_flags(text) or ()) for text in set(texts)}
        columns["open_flags"] = [parsed[text] for text in texts]
        frame = _frame(columns)
    frame["sessions_recorded"] = frame["sessions"]
    frame["alliance_latest"] = pd.to_numeric(frame["alliance_latest"], errors="coerce")
    return frame


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A frame of columns of values, typed without pandas guessing at every value.

    Whole numbers, numbers (with None as NaN) and yes/no become numpy arrays; text, dates and
    anything else stay Python objects: pandas' own text type took four times as long to build,
    and six times as long to map to words for the table, on 100,000 cases.
    """
    typed = {}
    for name, values in columns.items():
        kinds = {type(value) for value in values}
        if kinds == {int}:
            typed[name] = pd.Series(np.array(values, dtype=np.int64), copy=False)
        elif kinds == {bool}:
            typed[name] = pd.Series(np.array(values, dtype=bool), copy=False)
        elif float in kinds and kinds <= {float, int, type(None)}:
            typed[name] = pd.Series(np.array(values, dtype=float), copy=False)
        else:
            typed[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(typed, copy=False)


def with_figures(table: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Rows of the caseload table (e.g. filtered) with the charts' figures of the same cases."""
    return table.merge(figures, on="id", how="inner", validate="one_to_one")


def caseload_overview(frame: pd.DataFrame) -> CaseloadSummary:
    """Every figure of the caseload charts, overall and per therapist."""
    titles = {t.id: t.title for t in content().themes}
    return caseload_summary(frame, titles)


# Case review: flag decisions and supervision notes --------------------------------------------


@dataclass(frozen=True)
class FlagStatus:
    """Where one flag of a case stands: as last raised, with its latest event."""

    flag_id: str
    title: str
    severity: str
    theme_title: str
    status: FlagEventKind
    raised_at: datetime
    latest: FlagEvent

    @property
    def open(self) -> bool:
        """The engine raises the flag now (it has not been cleared since it was last raised)."""
        return self.status != "cleared"


def flag_statuses(case_id: int) -> list[FlagStatus]:
    """Every flag ever raised on the case with its latest event: open flags first, high first."""
    titles = {t.id: t.title for t in content().themes}
    raised: dict[str, FlagEvent] = {}
    latest: dict[str, FlagEvent] = {}
    for event in repository().flag_history(case_id):
        if event.event == "raised":
            raised[event.flag_id] = event
        latest[event.flag_id] = event
    rank = {"high": 0, "medium": 1, "low": 2}
    statuses = [
        FlagStatus(
            flag_id,
            first.title or flag_id,
            first.severity or "low",
            titles.get(first.theme or "", first.theme or "—"),
            latest[flag_id].event,
            first.at,
            latest[flag_id],
        )
        for flag_id, first in raised.items()
    ]
    return sorted(statuses, key=lambda s: (not s.open, rank.get(s.severity, 3), s.title))


def decide_flag(
    case_id: int,
    flag_id: str,
    decision: FlagDecision,
    reason: str,
    allow_identifiers: bool = False,
) -> FlagEvent:
    """Acknowledge, resolve or reopen a flag raised on the case, recording who, when and why."""
    if not allow_identifiers:
        check_identifiers({"reason": reason})
    return repository().decide_flag(case_id, flag_id, decision, reason, current_user())


def notes(case_id: int) -> list[SupervisionNote]:
    """The supervision notes of a case, oldest first."""
    return repository().notes(case_id)


def add_note(
    case_id: int,
    text: str,
    action: str = "",
    status: NoteStatus = "open",
    allow_identifiers: bool = False,
) -> int:
    """Add a supervision note, with the action agreed (may be empty), by the current user."""
    if not allow_identifiers:
        check_identifiers({"text": text, "action": action})
    return repository().add_note(case_id, current_user(), text.strip(), action.strip(), status)


def edit_note(
    note_id: int,
    expected_version: int,
    text: str,
    action: str,
    status: NoteStatus,
    allow_identifiers: bool = False,
) -> int:
    """Change a note, keeping what it said before in its history; StaleNote if it moved on."""
    if not allow_identifiers:
        check_identifiers({"text": text, "action": action})
    return repository().edit_note(
        note_id,
        current_user(),
        expected_version,
        text=text.strip(),
        action=action.strip(),
        status=status,
    )


def note_history(note_id: int) -> list[NoteVersion]:
    """What a note said before each edit, oldest first."""
    return repository().note_history(note_id)


def notes_export(case_id: int | None = None) -> str:
    """Supervision notes as CSV: one case's, or every case's (with reference and therapist)."""
    if case_id is None:
        rows = [
            _note_row(note, note.reference, note.therapist) for note in repository().all_notes()
        ]
    else:
        stored = open_case(case_id)
        rows = [
            _note_row(note, stored.case.reference, stored.case.therapist)
            for note in repository().notes(case_id)
        ]
    return notes_csv(rows)


def _note_row(note: SupervisionNote, reference: str, therapist: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "therapist": therapist,
        "note": note.id,
        "version": note.version,
        "author": note.author,
        "created_at": note.created_at.isoformat(timespec="seconds"),
        "updated_at": note.updated_at.isoformat(timespec="seconds"),
        "status": note.status,
        "text": note.text,
        "action_agreed": note.action,
    }


def review_pdf(case_id: int, on: date | None = None) -> bytes:
    """The case review for supervision as PDF: report, outcomes, flag history and notes."""
    stored = open_case(case_id)
    report = assess(content(), stored.case)
    return case_review_pdf(
        report,
        [asdict(note) for note in repository().notes(case_id)],
        [asdict(event) for event in repository().flag_history(case_id)],
        on or date.today(),
        stored.case.therapist,
    )


# FHIR and the case summary --------------------------------------------------------------------

FhirError = fhir.FhirError


def fhir_questionnaires() -> str:
    """The content's questionnaires as a FHIR R4B Bundle (JSON); docs/fhir.md describes them."""
    return fhir.questionnaire_bundle_json(content())


def case_fhir(case: Case, at: datetime | None = None) -> str:
    """The case as a FHIR R4B collection Bundle (JSON), led by its fit report."""
    moment = at or datetime.now(UTC)
    return fhir.case_bundle_json(content(), case, assess_case(case), moment)


def case_from_fhir(text: str) -> Case:
    """The case a FHIR Bundle holds; FhirError names the resource and element of each problem."""
    return fhir.read_case_bundle(content(), text)


def is_fhir_bundle(text: str) -> bool:
    """Whether JSON text is a FHIR Bundle rather than a case file (by its resourceType)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


def import_case(text: str) -> int:
    """Store the case of a case file or a FHIR Bundle; return its id.

    CaseFileError or FhirError name what is wrong; ReferenceTaken if the reference is in use.
    """
    case = case_from_fhir(text) if is_fhir_bundle(text) else parse_case_file(text)
    problems = reference_problems(case.reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    case_id = repository().create(case)
    refresh_case(case_id)
    return case_id


def case_summary_pdf(case_id: int, on: date | None = None) -> bytes:
    """The case summary as PDF: fit, depression and anxiety over sessions, outcomes and flags."""
    case = open_case(case_id).case
    lib = content()
    measures = [lib.measure(lib.tracking.depression_measure), lib.measure(case.anxiety_measure)]
    return summary_pdf.case_summary_pdf(
        assess(lib, case), measures, on or date.today(), case.therapist
    )
