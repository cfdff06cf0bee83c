"""The use cases that pages and the command line call: cases, answers, assessment and exports."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from tailoring.content import content_dir, library
from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics, caseload_summary
from tailoring.engine.grading import grade, reference_flag_problems, theme_scores
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.report_json import report_json
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
from tailoring.model.caseload import CaseloadSummary
from tailoring.model.content import ContentLibrary
from tailoring.model.grade import Grade
from tailoring.model.report import FitReport
from tailoring.model.scenario import Scenario
from tailoring.model.session import Session
from tailoring.storage.db import database_url, make_engine
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StaleSession,
    StorageError,
    StorageUnavailable,
)
from tailoring.storage.repository import (
    AttemptSummary,
    CaseRepository,
    CaseSummary,
    Correction,
    FlagEvent,
    FlagState,
    StoredCase,
    open_flags,
)

__all__ = [
    "CaseFileError",
    "CaseNotFound",
    "CaseSummary",
    "ReferenceTaken",
    "StaleAnswer",
    "StaleCase",
    "StaleSession",
    "StorageError",
    "StorageUnavailable",
    "StoredCase",
]

log = logging.getLogger(__name__)
BACKFILL_PER_START = 25
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


# Answers -------------------------------------------------------------------------------------


def save_answer(
    case_id: int,
    section: Section,
    item_id: str,
    answer: dict[str, Any],
    expected_revision: int | None = None,
) -> int:
    """Validate one answer against the content and save it; returns its new revision."""
    model = ANSWER_MODELS[section]
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
    case_id: int, session: dict[str, Any], expected_revision: int | None = None
) -> int:
    """Validate a session, store it with the fit as it stands now, and return its revision.

    A change to a saved session is kept as a correction (who, when, old value).
    """
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
    metrics = case_metrics(report, case, content().tracking.alliance_min_ratings)
    repository().save_metrics(case_id, metrics)
    current = [
        FlagState(f.id, f.severity, f.theme, f.title[:FLAG_TITLE_LENGTH]) for f in report.flags
    ]
    repository().sync_flags(case_id, current, current_user())


def flag_history(case_id: int) -> list[FlagEvent]:
    """When each flag of the case was raised or cleared, and what people decided, oldest first."""
    return repository().flag_history(case_id)


def caseload_frame(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The stored caseload figures as the engine's caseload frame (one row per real case).

    Cases whose figures were never computed are left out until ``start`` backfills them.
    """
    columns = repository().caseload_frame(include_archived, therapist)
    frame = pd.DataFrame(columns)
    frame = frame[frame["computed_at"].notna()].reset_index(drop=True)
    names = {p.id: p.name for p in content().protocols}
    frame["protocol_name"] = frame["protocol_id"].map(names).fillna(frame["protocol_id"])
    frame["last_session_date"] = frame["last_session"]
    frame["sessions_recorded"] = frame["sessions"]
    frame["open_flags"] = [list(open_flags(text) or ()) for text in frame["open_flag_ids"]]
    frame["fit"] = pd.to_numeric(frame["fit"], errors="coerce").astype(float)
    frame["alliance_latest"] = pd.to_numeric(frame["alliance_latest"], errors="coerce")
    return frame


def caseload_overview(frame: pd.DataFrame) -> CaseloadSummary:
    """Every figure of the caseload charts, overall and per therapist."""
    titles = {t.id: t.title for t in content().themes}
    return caseload_summary(frame, titles)
