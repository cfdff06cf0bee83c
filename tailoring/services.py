"""The use cases that pages and the command line call: cases, answers, assessment and exports."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError
from sqlalchemy import Engine

from tailoring import access
from tailoring.access import AccessDenied, Action
from tailoring.auth import (
    LOCAL_USER,
    Actor,
    LoginRefused,
    actor_for,
    authenticate,
    local_actor,
)
from tailoring.content import content_dir, library
from tailoring.demo import FIRST_REFERENCE, demo_cases, demo_reference
from tailoring.engine import indications as indication_rules
from tailoring.engine import patient_links as link_codes
from tailoring.engine.answer_source import merge
from tailoring.engine.assess import assess, completeness
from tailoring.engine.caseload import case_metrics, caseload_summary, filter_caseload
from tailoring.engine.coding import code_text
from tailoring.engine.expected import derive_expected_change
from tailoring.engine.grading import grade, reference_flag_problems, scenario_case, theme_scores
from tailoring.engine.identifiers import FoundIdentifier, find_identifiers, redact
from tailoring.engine.outcomes import (
    RISK_FLAG,
    expected_scores,
    recorded_measures,
    score_measure,
)
from tailoring.engine.perception import (
    Comparison,
    perception_gaps,
    side_by_side,
    therapist_view,
)
from tailoring.export import fhir, summary_pdf
from tailoring.export import text as text_export
from tailoring.export.caseload import (
    MAX_ERRORS,
    caseload_csv,
    collector_paused,
    conflicts_with_existing,
    notes_csv,
    parse_caseload,
    problems_csv,
    template_csv,
)
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.report_json import report_json
from tailoring.export.review_pdf import case_review_pdf
from tailoring.export.tables import csv_text
from tailoring.limits import InputRefused, load_json
from tailoring.model.case import (
    REFERENCE_PATTERN,
    AllianceAnswer,
    Answers,
    Case,
    PreferenceAnswer,
    Section,
    SocialAnswer,
    WalkStep,
    answer_problems,
    referral_problems,
    unknown_problems,
)
from tailoring.model.caseload import CaseloadSummary, CaseMetrics, ImportReport, RowError
from tailoring.model.coding import ThemeCode
from tailoring.model.content import ContentLibrary
from tailoring.model.grade import Grade
from tailoring.model.measures import MEASURE_ROLES
from tailoring.model.patient import (
    SOURCES,
    PatientAnswers,
    PatientLink,
    Question,
    Source,
    as_answers,
    parse_answer,
    questions,
)
from tailoring.model.patient_content import PatientWording, QuestionnaireSet, SetId
from tailoring.model.report import Completeness, FitReport, Flag, MeasureScore
from tailoring.model.scenario import Scenario
from tailoring.model.session import Session
from tailoring.model.text import (
    SHORT_TEXT_CHARS,
    SUPERVISION_NOTE_CHARS,
    TextTooLong,
)
from tailoring.model.text import checked as checked_text
from tailoring.model.text import clean as clean_text
from tailoring.storage.accounts import AccountRepository
from tailoring.storage.audit import AUDIT_ACTIONS, AuditAction, AuditEntry, AuditLog, ChainCheck
from tailoring.storage.db import (
    build_engine,
    database_url,
    grant_app_role,
    make_engine,
    migrate,
    require_current,
    schema_revisions,
)
from tailoring.storage.errors import (
    CaseNotFound,
    LinkClosed,
    MayNotMigrate,
    NoteNotFound,
    PatientLinkNotFound,
    ReferenceTaken,
    SchemaOutdated,
    StaleAnswer,
    StaleCase,
    StaleNote,
    StaleSession,
    StorageError,
    StorageUnavailable,
)
from tailoring.storage.patient import (
    CaseLink,
    CodeDecision,
    CodeDecisionKind,
    OpenAnswer,
    PatientRepository,
    RiskAnswer,
)
from tailoring.storage.repository import (
    AttemptSummary,
    CaseFigures,
    CaseloadStamp,
    CaseOwner,
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
from tailoring.storage.throttle import SignInAttempts

__all__ = [
    "AUDIT_ACTIONS",
    "AccessDenied",
    "CaseFileError",
    "CaseNotFound",
    "CaseSummary",
    "CaseloadStamp",
    "FhirError",
    "IdentifiersFound",
    "MayNotMigrate",
    "NotSignedIn",
    "NoteNotFound",
    "ReferenceTaken",
    "SchemaOutdated",
    "StaleAnswer",
    "StaleCase",
    "StaleNote",
    "StaleSession",
    "StorageError",
    "StorageUnavailable",
    "StoredCase",
    "TextTooLong",
    "filter_caseload",
    "recorded_measures",
]

log = logging.getLogger(__name__)
BACKFILL_PER_START = 25
# Cases whose figures are computed in one batch: a second or two of assessing them.
FIGURES_BATCH = 200
# Changed cases up to which the caseload is updated row by row rather than read again (or a
# twentieth of it, if more).
MAX_UPDATED_ROWS = 2000
# The caseload's columns its table and filters read, read first; then what its charts add.
TABLE_FIELDS = (
    "id",
    "reference",
    "therapist",
    "protocol_id",
    "last_session",
    "sessions_attended",
    "fit",
    "flags_high",
    "flags_medium",
    "flags_low",
    "alliance_trend",
    "outcome",
    "not_on_track",
)
FIGURE_FIELDS = (
    "id",
    "status",
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
    "wait_first_appointment",
    "wait_first_treatment",
    "wait_second_treatment",
    "open_flag_ids",
)
_demo_checked: set[str] = set()
FLAG_TITLE_LENGTH = 200
# Case fields checked against the sessions' dates when they change.
REFERRAL_FIELDS = frozenset({"referral_date", "ending_date", "ending_reason"})
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
def _engine(url: str) -> Engine:
    return make_engine(url)


@lru_cache(maxsize=4)
def _repository(url: str) -> CaseRepository:
    return CaseRepository(_engine(url))


def repository() -> CaseRepository:
    """The repository of the configured database (TAILORING_DATABASE_URL, SQLite by default)."""
    return _repository(database_url())


@lru_cache(maxsize=4)
def _accounts(url: str) -> AccountRepository:
    return AccountRepository(_engine(url))


def accounts() -> AccountRepository:
    """Accounts and supervision assignments of team mode, in the configured database."""
    return _accounts(database_url())


@lru_cache(maxsize=4)
def _audit_log(url: str) -> AuditLog:
    return AuditLog(_engine(url))


def audit_log() -> AuditLog:
    return _audit_log(database_url())


@lru_cache(maxsize=4)
def _sign_in_attempts(url: str) -> SignInAttempts:
    return SignInAttempts(_engine(url))


def sign_in_attempts() -> SignInAttempts:
    """Failed sign-ins and wrong patient codes, counted in the configured database."""
    return _sign_in_attempts(database_url())


# Who is acting, and what they may do ---------------------------------------------------------
#
# Local mode (the default): no login; one user, named by TAILORING_USER, who may do everything.
# Team mode (TAILORING_MODE=team, or set_mode("team") from the app's secrets): every use case
# asks tailoring.access whether the signed-in actor may act on the case, and the audit log
# records who viewed, created, changed, exported or deleted which case. The app tells services
# who is signed in through use_actor_source; the command line and tests use acting_as.

MODES = ("local", "team")
# Who the app's own upkeep acts as (loading the demo cases, computing missing figures).
SYSTEM_USER = "system"
PATIENT_USER = "patient (by link)"
# Who the audit log names for a patient code that belongs to no link.
UNKNOWN_CODE = "(unknown patient code)"
# A case opened again within this many seconds by the same person is not logged again.
VIEW_AUDIT_SECONDS = 15 * 60
_mode = [os.environ.get("TAILORING_MODE", "local")]
_acting: ContextVar[Actor | None] = ContextVar("tailoring_acting", default=None)
_actor_source: list[Callable[[], Actor | None]] = []
_last_viewed: dict[tuple[str, str, int], float] = {}


class NotSignedIn(PermissionError):
    """Team mode, and nobody is signed in."""

    def __init__(self) -> None:
        super().__init__("Sign in to continue: your session ended or you are not signed in.")


def set_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    _mode[0] = mode


def team_mode() -> bool:
    return _mode[0] == "team"


def use_actor_source(source: Callable[[], Actor | None]) -> None:
    """How the app says who is signed in now (it reads its session); replaces any earlier one."""
    _actor_source[:] = [source]


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Act as ``actor`` inside the block, whatever the app's session says (CLI, tests)."""
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def current_actor() -> Actor:
    """Who is acting: set by acting_as, else the app's signed-in user, else the local user.

    NotSignedIn in team mode when the app has nobody signed in. Outside the app (the command
    line) the local user acts, named by TAILORING_USER.
    """
    actor = _acting.get()
    if actor is None and _actor_source:
        actor = _actor_source[0]()
        if actor is None and team_mode():
            raise NotSignedIn()
    return actor or local_actor(os.environ.get("TAILORING_USER", LOCAL_USER)[:80])


def current_user() -> str:
    """Who is acting, for correction records, flag events, notes and the audit log."""
    return current_actor().username


def may(action: Action, case_id: int | None = None) -> bool:
    """Whether the current actor may take ``action`` (on this case): for showing a control."""
    if case_id is None:
        return access.allowed(current_actor(), action)
    holder = repository().owner(case_id)
    return access.allowed(current_actor(), _kind_action(action, holder.kind), holder.therapist)


def sign_in(username: str, password: str, client: str | None = None) -> Actor:
    """Check a local account's password (LoginRefused, throttled per username and per client
    address ``client``, None when not known) and return who signed in."""
    return authenticate(
        accounts(),
        sign_in_attempts(),
        username,
        password,
        datetime.now(UTC),
        client=client,
        audit=audit_log(),
    )


def signed_in_elsewhere(username: str) -> Actor:
    """The account of someone the identity provider signed in (LoginRefused if none/disabled)."""
    actor = actor_for(accounts(), username.strip().lower())
    audit_log().record(actor.username, "login", detail="single sign-on")
    return actor


# However active, a sign-in kept across reloads ends after this long: sign in again each day.
SIGN_IN_LONGEST = timedelta(hours=12)


def start_sign_in(actor: Actor) -> str:
    """A token that keeps ``actor`` signed in across reloads and tabs (for a cookie)."""
    return accounts().start_sign_in(actor.username)


def resume_sign_in(token: str, idle_minutes: float) -> Actor | None:
    """Who a sign-in token stands for, read afresh from the accounts; None if it has ended.

    Called on every run in team mode, so a sign-out in another tab, a disabled account, or a
    change of roles or supervisees takes effect on the next click.
    """
    username = accounts().resume_sign_in(token, timedelta(minutes=idle_minutes), SIGN_IN_LONGEST)
    if username is None:
        return None
    actor = _enabled_actor(username)
    if actor is None:
        accounts().end_sign_in(token)
    return actor


def sign_in_seen(token: str, idle_minutes: float) -> datetime | None:
    """When the sign-in was last used in any tab, not counting this question; None if ended."""
    return accounts().sign_in_seen(token, timedelta(minutes=idle_minutes), SIGN_IN_LONGEST)


def end_sign_in(token: str) -> None:
    accounts().end_sign_in(token)


def account_now(actor: Actor) -> Actor | None:
    """``actor`` as the accounts have them now (roles, supervisees); None if disabled or gone."""
    return _enabled_actor(actor.username)


def _enabled_actor(username: str) -> Actor | None:
    try:
        return actor_for(accounts(), username)
    except LoginRefused:
        return None


def _kind_action(action: Action, kind: str) -> Action:
    """``case.view`` of an attempt is ``attempt.view`` (and edit likewise)."""
    if kind == "attempt" and action in ("case.view", "case.edit", "case.export"):
        return cast(Action, "attempt.view" if action == "case.view" else "attempt.edit")
    return action


def _guard(
    action: Action, case_id: int | None = None, reference: str | None = None
) -> CaseOwner | None:
    """Refuse (AccessDenied) unless the actor may take ``action`` on the case; return its holder.

    None when the reference is not stored (a case file being exported from the command line):
    only the local user may do that.
    """
    actor = current_actor()
    try:
        holder = repository().owner(case_id, reference)
    except CaseNotFound:
        if reference is not None and actor.local:
            return None
        raise
    _require_on(action, holder)
    return holder


def _require_on(action: Action, holder: CaseOwner) -> None:
    """Refuse (AccessDenied) unless the actor may take ``action`` on this holder's case."""
    access.require(
        current_actor(), _kind_action(action, holder.kind), holder.therapist, holder.kind
    )


def _audit(action: AuditAction, holder: CaseOwner | None, detail: str = "") -> None:
    if holder is None:
        return
    if action == "viewed":
        key = (database_url(), current_user(), holder.id)
        now = time.monotonic()
        if now - _last_viewed.get(key, -VIEW_AUDIT_SECONDS) < VIEW_AUDIT_SECONDS:
            return
        _last_viewed[key] = now
    audit_log().record(current_user(), action, holder.id, holder.reference, detail)


@contextmanager
def _changing(case_id: int, detail: str) -> Iterator[CaseOwner | None]:
    """Guard an edit of a case (or attempt); log it once the block has made it.

    A change refused inside the block (stale, invalid, an identifier) is not logged.
    """
    holder = _guard("case.edit", case_id)
    yield holder
    _audit("changed", holder, detail)


def audit_entries(
    actor: str | None = None,
    action: AuditAction | None = None,
    reference: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 1000,
) -> list[AuditEntry]:
    """The audit log, newest first, as far as the current actor may read it.

    The filters typed are cleaned of control characters first: PostgreSQL refuses a NUL in a
    query, which showed as "database cannot be used right now".
    """
    me = current_actor()
    access.require(me, "audit.view")
    owners = access.audit_owners(me)
    case_ids = None if owners is None else repository().ids_of(owners)
    return audit_log().entries(
        actor=clean_text(actor or "") or None,
        action=action,
        case_reference=clean_text(reference or "") or None,
        case_ids=case_ids,
        since=since,
        until=until,
        limit=limit,
    )


def audit_csv(entries: Sequence[AuditEntry]) -> str:
    """Audit entries as CSV; the export itself is logged."""
    access.require(current_actor(), "audit.export")
    audit_log().record(current_user(), "exported", detail=f"audit log ({len(entries)} entries)")
    return csv_text(
        [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "actor": e.actor,
                "action": e.action,
                "case_reference": e.case_reference or "",
                "detail": e.detail,
            }
            for e in entries
        ]
    )


# The database itself: run by whoever owns it, from the command line ----------------------------


@contextmanager
def _engine_at(url: str | None) -> Iterator[Engine]:
    """A fresh engine on ``url`` (default: the configured database) that leaves the schema be."""
    engine = build_engine(url or database_url())
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_database(url: str | None = None) -> tuple[str | None, str]:
    """Migrate the database to the latest schema; the revisions it was at before and is at now."""
    with _engine_at(url) as engine:
        before, _ = schema_revisions(engine)
        migrate(engine)
        return before, schema_revisions(engine)[0] or ""


def grant_app_database_role(role: str, url: str | None = None) -> None:
    """Let PostgreSQL role ``role`` use the tables as the app does, and only read and append to
    the audit log (ValueError naming what stands in the way)."""
    with _engine_at(url) as engine:
        grant_app_role(engine, role)


def check_audit_chain(
    expected: tuple[int, str] | None = None, url: str | None = None
) -> ChainCheck:
    """Check the whole audit log's hash chain (and an entry recorded earlier, if given).

    For those who may read the whole log (admins, the local user); it writes nothing and
    changes no schema (SchemaOutdated when not migrated).
    """
    me = current_actor()
    if access.audit_owners(me) is not None:
        raise AccessDenied("audit.view")
    with _engine_at(url) as engine:
        require_current(engine)
        return AuditLog(engine).check(expected)


def start(load_demo: bool | None = None) -> None:
    """Prepare storage (migrations run on connect); load the demo cases into an empty database.

    The app calls this on every rerun: the demo cases load at most once per database and process,
    so deleting every case does not bring them back on the next click.
    """
    with acting_as(local_actor(SYSTEM_USER)):
        _start(load_demo)


def _start(load_demo: bool | None) -> None:
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
    actor = current_actor()
    access.require(actor, "case.create", actor.username, "case")
    case = _validated(
        {
            "reference": reference.strip(),
            "protocol_id": protocol_id,
            "sessions_available": sessions_available,
            **({} if actor.local else {"therapist": actor.username}),
        }
    )
    case_id = repository().create(case)
    _audit("created", repository().owner(case_id))
    refresh_case(case_id)
    return case_id


def list_cases(include_archived: bool = False) -> list[CaseSummary]:
    """The cases the current actor may see (all of them in local mode)."""
    listed = repository().list(include_archived=include_archived)
    owners = access.visible_owners(current_actor())
    return listed if owners is None else [c for c in listed if c.therapist in owners]


def open_case(case_id: int) -> StoredCase:
    """A case or attempt, if the current actor may open it; the view is logged.

    The stored case names its holder, so the access check needs no query of its own (pages
    open the case on every rerun).
    """
    current_actor()  # NotSignedIn before anything is read
    stored = repository().get(case_id)
    holder = CaseOwner(stored.id, stored.case.reference, stored.case.therapist, stored.kind)
    _require_on("case.view", holder)
    _audit("viewed", holder)
    return stored


def update_case(case_id: int, expected_version: int | None = None, **fields: Any) -> None:
    """Change the planned protocol, presenting problems, sessions available, anxiety measure,
    step, status, reference, referral date or ending."""
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
    named = {k: v for k, v in fields.items() if k in ("problem", "second_problem")}
    unknown = unknown_problems(content(), **named)
    if unknown:
        raise CaseFileError(unknown)
    if "therapist" in fields and team_mode():
        raise access.AccessDenied("accounts.manage")
    if REFERRAL_FIELDS & set(fields):
        _check_referral(case_id, fields)
    with _changing(case_id, "plan: " + ", ".join(sorted(fields))):
        repository().update_case(case_id, expected_version, **fields)
        refresh_case(case_id)


def _check_referral(case_id: int, fields: dict[str, Any]) -> None:
    """CaseFileError when the new referral or ending disagrees with itself or the sessions."""
    case = repository().get(case_id).case
    try:
        changed = Case.model_validate({**case.model_dump(), **fields})
    except ValidationError as exc:
        raise CaseFileError(_problems(exc)) from None
    problems = referral_problems(changed)
    if problems:
        raise CaseFileError(problems)


def expected_change_yaml(demo: int | None = None, seed: int = 0, **options: Any) -> str:
    """Expected-change curves as the text of content/measures/expected_change.yaml: from the
    finished courses of every real case in the database, or from ``demo`` invented cases."""
    lib = content()
    if demo is not None:
        cases = demo_cases(lib, demo, seed)
        source = f"computed from {demo} invented demo cases (seed {seed}): replace with your own"
    else:
        repo = repository()
        ids = [c.id for c in repo.list(include_archived=True)]
        cases = [stored.case for stored in repo.get_many(ids)]
        source = f"computed from the finished courses of this service's {len(cases)} cases"
    curves = derive_expected_change(lib, cases, source, **options)
    header = (
        "# Expected-change curves with a failure boundary, written by\n"
        "# `python -m tailoring expected-change` (engine/expected.py explains the method).\n"
        "# Recompute them from your service's own finished courses; delete this file to use\n"
        "# the fixed not-on-track rule of rules.yaml instead.\n"
    )
    return header + yaml.safe_dump(curves.model_dump(mode="json"), sort_keys=False)


def expected_band(case: Case, measure_id: str) -> list[tuple[int, float, float]]:
    """(session number, expected, boundary) at the case's scored treatment appointments, for the
    timeline: empty when no curve covers where the patient started or they were below caseness."""
    lib = content()
    expected = lib.expected_change
    measure = lib.measure(measure_id)
    scored = expected_scores(measure, case)
    if expected is None or not scored or measure.caseness is None:
        return []
    first = scored[0][2]
    if first < measure.caseness:
        return []
    band = []
    for k, number, _ in scored:
        point = expected.point(measure_id, first, k)
        if point is not None:
            band.append((number, point.expected, point.boundary))
    return band


def set_step(case_id: int, step: WalkStep) -> None:
    _guard("case.edit", case_id)
    repository().update_case(case_id, None, step=step)


def archive_case(case_id: int, archived: bool = True) -> None:
    with _changing(case_id, "archived" if archived else "restored"):
        repository().update_case(case_id, None, status="archived" if archived else "active")


def duplicate_case(case_id: int, new_reference: str) -> int:
    """Copy a case the actor may see into the actor's own caseload (a supervisor's copy of a
    supervisee's case is the supervisor's, never a case made in someone else's caseload)."""
    problems = reference_problems(new_reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    _guard("case.view", case_id)
    actor = current_actor()
    access.require(actor, "case.create", actor.username, "case")
    holder = None if actor.local else actor.username
    copy_id = repository().duplicate(case_id, new_reference.strip(), therapist=holder)
    _audit("created", repository().owner(copy_id), f"copy of case {case_id}")
    refresh_case(copy_id)
    return copy_id


def delete_case(case_id: int) -> None:
    holder = _guard("case.delete", case_id)
    repository().delete(case_id)
    _audit("deleted", holder)


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
    with _changing(case_id, f"answer {section} {item_id}"):
        try:
            parsed = model.model_validate(answer)
        except ValidationError as exc:
            raise CaseFileError(_problems(exc, f"answers.{section}.{item_id}")) from None
        # After validation: its limit keeps an over-long note out of the identifier search.
        if isinstance(parsed, SocialAnswer) and not allow_identifiers:
            check_identifiers({"note": parsed.note})
        problems = answer_problems(content(), section, item_id, parsed)
        if problems:
            raise CaseFileError(problems)
        revision = repository().save_answer(case_id, section, item_id, parsed, expected_revision)
        refresh_case(case_id)
        return revision


def clear_answer(case_id: int, section: Section, item_id: str) -> None:
    with _changing(case_id, f"cleared {section} {item_id}"):
        repository().clear_answer(case_id, section, item_id)
        refresh_case(case_id)


# Assessment and exports ----------------------------------------------------------------------


def assess_case(case: Case) -> FitReport:
    return assess(content(), case)


def indication_matrix() -> list[dict[str, str]]:
    """Every protocol × problem descriptor, with severity range and contraindications."""
    return indication_rules.indication_matrix(content())


def answer_completeness(case: Case) -> Completeness:
    """How many checklist questions are answered, by section: all a walk-through step but the
    report needs on every click (the full assessment also weighs every other protocol)."""
    return completeness(content(), case.answers)


def report_pdf(report: FitReport, on: date | None = None) -> bytes:
    _audit("exported", _guard("case.export", reference=report.case_reference), "session plan PDF")
    return session_plan_pdf(report, on or date.today())


# The fit report's plain-text versions: the whole report, or the one-page session plan.
TextKind = Literal["report", "plan"]


def report_text(report: FitReport, kind: TextKind, on: date | None = None) -> str:
    """The fit report or the session plan as plain text to paste into the clinical record."""
    made = text_export.fit_report_text if kind == "report" else text_export.session_plan_text
    return made(report, on or date.today())


def report_text_download(report: FitReport, kind: TextKind, on: date | None = None) -> str:
    """``report_text``, logged as an export: call it only when the file is downloaded."""
    _audit("exported", _guard("case.export", reference=report.case_reference), f"{kind} text")
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
    _audit("exported", _guard("case.export", case_id), f"session {number} text")
    return session_text(case_id, number, on)


def report_as_json(report: FitReport) -> str:
    _audit("exported", _guard("case.export", reference=report.case_reference), "report JSON")
    return report_json(report)


def case_file(case: Case) -> str:
    """The case in the documented case-file format (JSON)."""
    _audit("exported", _guard("case.export", reference=case.reference), "case file")
    return _case_json(case)


def _case_json(case: Case) -> str:
    return case.model_dump_json(indent=2, exclude_defaults=False)


# Working on files (the command line) ----------------------------------------------------------
#
# A case file is already in the hands of whoever runs the command: nothing is read from or written
# to the database, so these work where none is configured or reachable, and audit nothing.


def file_report_json(case: Case) -> str:
    """The fit report of a case read from a file, as JSON; opens no database."""
    return report_json(assess_case(case))


def file_fhir_bundle(case: Case, at: datetime | None = None) -> str:
    """A case read from a file as a FHIR R4B Bundle (JSON); opens no database."""
    return _fhir_bundle(case, at)


def file_case_json(case: Case) -> str:
    """A case read from a file (e.g. a FHIR Bundle) in the case-file format; opens no database."""
    return _case_json(case)


def parse_case_file(text: str) -> Case:
    """Parse and validate a case file against the content; CaseFileError names every field."""
    try:
        data = load_json(text)
    except InputRefused as exc:
        raise CaseFileError([str(exc)]) from None
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
    with _changing(case_id, f"session {session.get('number', '')}"):
        try:
            parsed = Session.model_validate(session)
        except ValidationError as exc:
            raise CaseFileError(_problems(exc, f"sessions.{session.get('number', '?')}")) from None
        if not allow_identifiers:
            check_identifiers({"note": parsed.note})
        stored = repository().get(case_id)
        others = [s for s in stored.case.sessions if s.number != parsed.number]
        sessions = sorted([*others, parsed], key=lambda s: s.number)
        case = _validated(
            {**stored.case.model_dump(), "sessions": [s.model_dump() for s in sessions]}
        )
        report = assess(content(), as_assessed(case_id, case))
        revision = repository().save_session(
            case_id, parsed, report.overall_fit, current_user(), expected_revision
        )
        if stored.kind == "case":
            # The figures of the report just made, if the save was the only change since the read
            # (it bumps the version by one); otherwise read the case again and refresh.
            metrics, current = _figures(case, report)
            figures = CaseFigures(case_id, stored.version + 1, metrics, current)
            if not repository().save_figures([figures], current_user()):
                refresh_case(case_id)
        return revision


def remove_session(case_id: int, number: int, expected_revision: int | None = None) -> None:
    with _changing(case_id, f"removed session {number}"):
        repository().delete_session(case_id, number, current_user(), expected_revision)
        refresh_case(case_id)


def session_history(case_id: int) -> list[Correction]:
    """Every correction to the case's sessions, oldest first."""
    _guard("case.view", case_id)
    return repository().corrections(case_id)


def fit_over_sessions(stored: StoredCase, now: float | None) -> list[tuple[str, float | None]]:
    """The fit recorded with each session, then the fit now: how it changed since the start."""
    points = [(f"Session {n}", stored.session_fits.get(n)) for n in sorted(stored.session_fits)]
    return [*points, ("Now", now)]


# Practice ------------------------------------------------------------------------------------


def start_attempt(scenario_id: str) -> int:
    """A new, empty attempt at a scenario, kept apart from real cases."""
    actor = current_actor()
    access.require(actor, "attempt.create", actor.username, "attempt")
    chosen = scenario(scenario_id)
    number = len(repository().list_attempts(scenario_id)) + 1
    while True:
        attempt = _validated(
            {
                "reference": f"T{number}-{chosen.id}"[:32],
                "protocol_id": chosen.protocol_id,
                "problem": chosen.problem,
                "second_problem": chosen.second_problem,
                "sessions_available": chosen.sessions_available,
                # The scenario's assessment measures, so the trainee's report reads the severity
                # the grading reads.
                "sessions": [
                    s.model_dump(mode="json") for s in scenario_case(chosen, Answers()).sessions
                ],
                **({} if actor.local else {"therapist": actor.username}),
            }
        )
        try:
            return repository().create(attempt, kind="attempt", scenario_id=chosen.id)
        except ReferenceTaken:
            number += 1


def submit_attempt(attempt_id: int) -> Grade:
    """Grade an attempt against its scenario's reference and keep the grade."""
    _guard("case.edit", attempt_id)
    stored = repository().get(attempt_id)
    if stored.kind != "attempt" or stored.scenario_id is None:
        raise CaseFileError(["this is a real case, not a practice attempt"])
    result = grade_attempt(stored.scenario_id, stored.case)
    repository().save_grade(attempt_id, result)
    return result


def attempts(scenario_id: str | None = None) -> list[AttemptSummary]:
    """The practice attempts the current actor may see, newest first (never real cases)."""
    listed = repository().list_attempts(scenario_id)
    owners = access.visible_owners(current_actor(), "attempt")
    return listed if owners is None else [a for a in listed if a.therapist in owners]


def attempt_grade(attempt_id: int) -> Grade | None:
    _guard("case.view", attempt_id)
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

    Called after every change to a case (and to the patient's answers when its fit uses them),
    so the caseload reads stored figures in one query and the flag history knows when each flag
    was raised and cleared. The figures are those of the fit on the case's chosen answers.
    """
    stored = repository().get(case_id)
    if stored.kind == "case":
        assessed = as_assessed(case_id, stored.case)
        metrics, current = _figures(stored.case, assess(content(), assessed))
        # Stored only if the case is still at the version read: when two changes overlap, the
        # later one's refresh keeps the figures of the case as it is now.
        repository().save_figures(
            [CaseFigures(case_id, stored.version, metrics, current)], current_user()
        )


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
    sources = patient_repository().answer_sources(case_ids)
    for stored in repository().get_many(case_ids):
        if stored.kind == "case":
            assessed = as_assessed(stored.id, stored.case, sources.get(stored.id, "therapist"))
            metrics, flags = _figures(stored.case, assess(content(), assessed))
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
    # Only a well-formed reference can be stored; asking the database about one with a NUL in
    # it made PostgreSQL refuse the query ("database cannot be used right now").
    possible = [r for r in report.first_rows if re.fullmatch(REFERENCE_PATTERN, r)]
    conflicts = conflicts_with_existing(report, repository().taken_references(possible))
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
    with collector_paused():
        ids = repository().import_cases(cases)
    if ids:
        audit_log().record(current_user(), "created", detail=f"caseload import: {len(ids)} cases")
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
    while repository().taken_references(demo_reference(first + i) for i in range(cases)):
        first += cases
    invented = demo_cases(content(), cases, seed, first)
    data = json.dumps([case.model_dump(mode="json") for case in invented]).encode()
    report = check_caseload_file("demo.json", data)
    if not report.clean:
        raise CaseFileError([f"case {e.row}, {e.field}: {e.message}" for e in report.errors])
    return import_caseload(report)


def flag_history(case_id: int) -> list[FlagEvent]:
    """When each flag of the case was raised or cleared, and what people decided, oldest first."""
    _guard("case.view", case_id)
    return repository().flag_history(case_id)


def caseload_frame(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The stored caseload figures as the engine's caseload frame (one row per real case).

    Cases whose figures were never computed are left out until they are (``caseload_stamp``
    counts them). The frame is ``caseload_table`` with ``caseload_figures`` added.
    """
    table = caseload_table(include_archived, therapist)
    return visible_caseload(with_figures(table, caseload_figures(include_archived, therapist)))


def visible_caseload(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a caseload frame the current actor may see (AccessDenied if none at all).

    The app keeps one unfiltered frame per server (read once, shared); every request narrows it
    here to the person asking, so nobody sees a case because someone else read it first.
    """
    actor = current_actor()
    access.require(actor, "caseload.view")
    owners = access.visible_owners(actor)
    if owners is None:
        return frame
    return frame[frame["therapist"].isin(sorted(owners))].reset_index(drop=True)


def caseload_table(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """What the caseload's table and filters show, one row per case with figures, by id.

    Read apart from the charts' figures, so that the table of a large caseload shows first.
    """
    with collector_paused():
        columns = repository().caseload_columns(TABLE_FIELDS, include_archived, therapist)
    return _table_frame(columns)


def _table_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    frame = _frame(columns)
    names = _protocol_names()
    frame["protocol_name"] = pd.Series(
        [names.get(protocol, protocol) for protocol in frame["protocol_id"]], dtype=object
    )
    frame["last_session_date"] = frame["last_session"]
    frame["fit"] = pd.to_numeric(frame["fit"], errors="coerce").astype(float)
    return frame


def _protocol_names() -> dict[str, str]:
    return {p.id: p.name for p in content().protocols}


@dataclass(frozen=True)
class CaseloadPreview:
    """The first rows of the caseload's table in one order, and what its filters offer.

    What the caseload page draws first, with no filter set, while the whole caseload (every
    row, for the filters and charts) is read: on 100,000 cases the rows take a tenth of it.
    """

    rows: pd.DataFrame  # the columns of caseload_table, at most ``limit`` rows, in order
    total: int  # cases the person may see that have figures: the rows of caseload_table
    therapists: list[str]
    protocols: dict[str, str]  # id -> name, in the order of their names


def caseload_preview(
    include_archived: bool, order_by: str, descending: bool, limit: int
) -> CaseloadPreview:
    """The first ``limit`` rows of the caseload the current actor may see, sorted by
    ``order_by`` (a column of ``caseload_table``) as a stable sort of ``caseload_table`` sorts
    them (empty values last), and what its filters offer."""
    actor = current_actor()
    access.require(actor, "caseload.view")
    owners = access.visible_owners(actor)
    field = "last_session" if order_by == "last_session_date" else order_by
    with collector_paused():
        columns = repository().caseload_columns(
            TABLE_FIELDS, include_archived, owners=owners, order=(field, descending), limit=limit
        )
    total, therapists, protocol_ids = repository().caseload_options(include_archived, owners)
    names = _protocol_names()
    protocols = {p: names.get(p, p) for p in sorted(protocol_ids, key=lambda p: names.get(p, p))}
    return CaseloadPreview(_table_frame(columns), total, therapists, protocols)


def caseload_figures(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The rest of the engine's caseload frame for the same cases, by id: what the charts add.

    ``open_flags`` lists each case's open flags; cases with the same flags share one list (the
    stored text is parsed once), so the lists are for reading only.
    """
    with collector_paused():
        columns = repository().caseload_columns(FIGURE_FIELDS, include_archived, therapist)
        return _figures_frame(columns)


def _figures_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    texts = columns.pop("open_flag_ids")
    parsed = {text: list(open_flags(text) or ()) for text in set(texts)}
    columns["open_flags"] = [parsed[text] for text in texts]
    frame = _frame(columns)
    frame["sessions_recorded"] = frame["sessions"]
    frame["alliance_latest"] = pd.to_numeric(frame["alliance_latest"], errors="coerce")
    return frame


# Cases changed this long before a stamp was read are read again when updating a caseload read
# as of it: a change committed a moment late carries a time from before the read.
CHANGE_MARGIN = timedelta(seconds=5)


def caseload_update(
    frame: pd.DataFrame,
    since: CaseloadStamp,
    stamp: CaseloadStamp,
    include_archived: bool = False,
    figures: bool = False,
) -> pd.DataFrame | None:
    """``caseload_table`` (``caseload_figures`` with ``figures``) as of ``stamp`` (now), from
    ``frame``, read as of the stamp ``since``, and the rows of the cases changed since; None
    when reading everything again is the better or the only safe way (many changes, another
    database, a case deleted, a row that does not add up).

    A changed case's row is read again, or dropped when it no longer belongs (archived, say);
    then the rows are counted against the database, which catches deleted cases.
    """
    if since.database != stamp.database or since.taken_at is None:
        return None
    changed = repository().changed_since(since.taken_at - CHANGE_MARGIN)
    if len(changed) > max(MAX_UPDATED_ROWS, len(frame) // 20):
        return None
    fields, make = (FIGURE_FIELDS, _figures_frame) if figures else (TABLE_FIELDS, _table_frame)
    kept = frame[~frame["id"].isin(sorted(changed))]
    updated = kept
    if changed:
        columns = repository().caseload_columns(fields, include_archived, ids=changed)
        if columns["id"]:
            fresh = make(columns)[list(frame.columns)]
            updated = pd.concat([kept, fresh], ignore_index=True).sort_values("id", kind="stable")
    expected, _, _ = repository().caseload_options(include_archived)
    if len(updated) != expected:
        return None
    return updated.reset_index(drop=True)


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A frame of columns of values, typed by numpy rather than by pandas' guesses.

    A column of numbers or of yes/no with no None becomes a numpy array (numpy widens, never
    truncates); anything else (text, dates, None) stays Python objects: pandas' own text type
    took four times as long to build, and six times as long to map to words for the table, on
    100,000 cases.
    """
    typed = {}
    for name, values in columns.items():
        array = np.array(values) if values and type(values[0]) in (int, float, bool) else None
        if array is not None and array.dtype.kind in "biuf":
            typed[name] = pd.Series(array, copy=False)
        else:
            typed[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(typed, copy=False)


def with_figures(table: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Rows of the caseload table (e.g. filtered) with the charts' figures of the same cases."""
    return table.merge(figures, on="id", how="inner", validate="one_to_one")


def caseload_export(rows: Sequence[dict[str, Any]]) -> str:
    """The caseload table as shown (the rows the actor may see, filtered), as CSV.

    Call it when the file is downloaded, not when the button is drawn: the export is audited,
    by how many cases it holds.
    """
    access.require(current_actor(), "caseload.view")
    audit_log().record(current_user(), "exported", detail=f"caseload CSV ({len(rows)} cases)")
    return caseload_csv(rows)


def caseload_overview(frame: pd.DataFrame) -> CaseloadSummary:
    """Every figure of the caseload charts, overall and per therapist."""
    titles = {t.id: t.title for t in content().themes}
    return caseload_summary(frame, titles, content().waits)


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
    _guard("case.view", case_id)
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
    """Acknowledge, resolve or reopen a flag raised on the case, recording who, when and why.

    TextTooLong for a reason over SHORT_TEXT_CHARS; control characters are removed.
    """
    holder = _guard("case.review", case_id)
    reason = checked_text(reason, SHORT_TEXT_CHARS, "reason")
    if not allow_identifiers:
        check_identifiers({"reason": reason})
    _audit("changed", holder, f"flag {decision}")
    return repository().decide_flag(case_id, flag_id, decision, reason, current_user())


def notes(case_id: int) -> list[SupervisionNote]:
    """The supervision notes of a case, oldest first."""
    _guard("case.view", case_id)
    return repository().notes(case_id)


def add_note(
    case_id: int,
    text: str,
    action: str = "",
    status: NoteStatus = "open",
    allow_identifiers: bool = False,
) -> int:
    """Add a supervision note, with the action agreed (may be empty), by the current user.

    TextTooLong for a note or action over its limit; control characters are removed.
    """
    holder = _guard("case.review", case_id)
    text, action = _note_texts(text, action)
    if not allow_identifiers:
        check_identifiers({"text": text, "action": action})
    _audit("changed", holder, "supervision note added")
    return repository().add_note(case_id, current_user(), text, action, status)


def _note_texts(text: str, action: str) -> tuple[str, str]:
    """A supervision note's text and action, cleaned, stripped and within their limits."""
    return (
        checked_text(text, SUPERVISION_NOTE_CHARS, "note").strip(),
        checked_text(action, SHORT_TEXT_CHARS, "action agreed").strip(),
    )


def edit_note(
    note_id: int,
    expected_version: int,
    text: str,
    action: str,
    status: NoteStatus,
    allow_identifiers: bool = False,
) -> int:
    """Change a note, keeping what it said before in its history; StaleNote if it moved on.

    TextTooLong for a note or action over its limit; control characters are removed.
    """
    holder = _guard("case.review", repository().note_case(note_id))
    text, action = _note_texts(text, action)
    if not allow_identifiers:
        check_identifiers({"text": text, "action": action})
    _audit("changed", holder, "supervision note edited")
    return repository().edit_note(
        note_id, current_user(), expected_version, text=text, action=action, status=status
    )


def note_history(note_id: int) -> list[NoteVersion]:
    """What a note said before each edit, oldest first."""
    _guard("case.view", repository().note_case(note_id))
    return repository().note_history(note_id)


def notes_export(case_id: int | None = None) -> str:
    """Supervision notes as CSV: one case's, or every case's (with reference and therapist)."""
    if case_id is None:
        owners = access.visible_owners(current_actor())
        rows = [
            _note_row(note, note.reference, note.therapist)
            for note in repository().all_notes()
            if owners is None or note.therapist in owners
        ]
        audit_log().record(current_user(), "exported", detail=f"notes of {len(rows)} cases")
    else:
        _audit("exported", _guard("case.export", case_id), "supervision notes CSV")
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
    _audit("exported", _guard("case.export", case_id), "case review PDF")
    stored = open_case(case_id)
    report, _ = fit_with_source(case_id)
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
    _audit("exported", _guard("case.export", reference=case.reference), "FHIR bundle")
    return _fhir_bundle(case, at)


def _fhir_bundle(case: Case, at: datetime | None) -> str:
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


def import_case(text: str) -> int:
    """Store the case of a case file or a FHIR Bundle; return its id.

    CaseFileError or FhirError name what is wrong; ReferenceTaken if the reference is in use.
    """
    actor = current_actor()
    access.require(actor, "case.create", actor.username, "case")
    case = case_from_fhir(text) if is_fhir_bundle(text) else parse_case_file(text)
    if not actor.local:
        # A therapist imports into their own caseload, whoever the file names.
        case = case.model_copy(update={"therapist": actor.username})
    problems = reference_problems(case.reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    case_id = repository().create(case)
    _audit("created", repository().owner(case_id), "imported")
    refresh_case(case_id)
    return case_id


def case_summary_pdf(case_id: int, on: date | None = None) -> bytes:
    """The case summary as PDF: fit, depression and anxiety over sessions, outcomes and flags."""
    _audit("exported", _guard("case.export", case_id), "case summary PDF")
    case = open_case(case_id).case
    lib = content()
    measures = [lib.measure(lib.tracking.depression_measure), lib.measure(case.anxiety_measure)]
    report, _ = fit_with_source(case_id)
    return summary_pdf.case_summary_pdf(report, measures, on or date.today(), case.therapist)


# Patient voice --------------------------------------------------------------------------------
#
# A therapist sends the patient a questionnaire by link (docs/patient-voice.md). The code is shown
# once and stored only as a hash. The patient has no account: on their side the code is the only
# key, so those use cases never ask who is signed in, and they show nothing but the questionnaire.
# The therapist's side is guarded and audited like every other use of a case.

LinkRefused = link_codes.LinkRefused
TooManyAttempts = link_codes.TooManyAttempts
DEFAULT_LINK_DAYS = link_codes.DEFAULT_LIFETIME.days
# Free-text answers coded once per process and content folder: the caseload's themes code every
# patient text on each visit, and the texts rarely change.
THEME_CODE_CACHE = 20_000


@lru_cache(maxsize=4)
def _patient_repository(url: str) -> PatientRepository:
    return PatientRepository(_engine(url))


def patient_repository() -> PatientRepository:
    """Patient links, their answers and coded-text decisions, in the configured database."""
    return _patient_repository(database_url())


# The therapist's side: links ------------------------------------------------------------------


def risk_item_keys() -> list[str]:
    """The answer keys of the risk items (PHQ-9 item 9) in a patient's questionnaire."""
    return [f"measure.{m.id}.{m.risk_item}" for m in content().measures if m.risk_item]


def link_risks(therapist: str | None = None) -> list[RiskAnswer]:
    """Risk items answered above 0 by link, finished or partly answered, on the active cases
    the current actor may see, newest first. The app does not assess risk: each one points to
    the local risk procedure."""
    found = patient_repository().risk_answers(risk_item_keys(), therapist)
    owners = access.visible_owners(current_actor())
    return [r for r in found if owners is None or r.therapist in owners]


def case_link_risks(case_id: int) -> list[RiskAnswer]:
    """The risk answers above 0 given by link on one case, finished or partly answered."""
    _guard("case.view", case_id)
    return [r for r in link_risks() if r.case_id == case_id]


def item9_cases(include_archived: bool = False) -> dict[int, str]:
    """Cases with the risk item above 0, by link or at a recorded session, in words per case."""
    words: dict[int, list[str]] = {}
    for case_id in repository().cases_with_open_flag(RISK_FLAG, include_archived):
        words.setdefault(case_id, []).append("at a session")
    for risk in link_risks():
        state = "finished" if risk.completed else "partly answered"
        said = f"by link ({state})"
        if said not in words.setdefault(risk.case_id, []):
            words[risk.case_id].append(said)
    return {case_id: ", ".join(said) for case_id, said in words.items()}


def create_patient_link(
    case_id: int,
    set_id: SetId,
    session_number: int | None = None,
    days: int = DEFAULT_LINK_DAYS,
) -> tuple[PatientLink, str]:
    """A new link to a questionnaire for the case's patient, and its code: the only time the code
    is known (only its hash is stored). ValueError for a set, session or lifetime that does not
    fit; CaseFileError for a practice attempt."""
    holder = _guard("case.edit", case_id)
    assert holder is not None
    if holder.kind != "case":
        raise CaseFileError(["patient questionnaires are for real cases, not practice attempts"])
    now = link_codes.utc_now()
    code = link_codes.new_code()
    link = patient_repository().create_link(
        case_id,
        set_id,
        session_number,
        link_codes.token_hash(code),
        current_user(),
        link_codes.expiry(now, timedelta(days=days)),
        now,
    )
    _audit("changed", holder, f"patient link {link.id} created ({set_id})")
    return link, link_codes.format_code(code)


def patient_links(case_id: int) -> list[PatientLink]:
    """Every questionnaire link of the case, newest first, with how many items were answered."""
    _guard("case.view", case_id)
    return patient_repository().links(case_id)


def extend_patient_link(link_id: int, days: int = DEFAULT_LINK_DAYS) -> PatientLink:
    """Give the patient ``days`` more (from the expiry, or from now once expired; at most 42 days
    from now). ValueError for a revoked link."""
    link = patient_repository().link(link_id)
    new_expiry = link_codes.extended_expiry(link, link_codes.utc_now(), timedelta(days=days))
    with _changing(link.case_id, f"patient link {link_id} extended"):
        return patient_repository().extend(link_id, new_expiry)


def expire_patient_link(link_id: int) -> PatientLink:
    """Stop the link now; it can be extended again."""
    link = patient_repository().link(link_id)
    with _changing(link.case_id, f"patient link {link_id} expired"):
        return patient_repository().expire(link_id)


def revoke_patient_link(link_id: int) -> PatientLink:
    """Stop the link for good; its answers no longer count (it may have reached someone else)."""
    link = patient_repository().link(link_id)
    with _changing(link.case_id, f"patient link {link_id} revoked"):
        return patient_repository().revoke(link_id)


def _visible(links: list[CaseLink]) -> list[CaseLink]:
    owners = access.visible_owners(current_actor())
    return links if owners is None else [c for c in links if c.therapist in owners]


def outstanding_links(therapist: str | None = None) -> list[CaseLink]:
    """Questionnaires still waiting for the patient, on the cases the actor may see (of one
    therapist, or all), those expiring soonest first."""
    return _visible(patient_repository().outstanding(therapist))


def returned_since_seen(therapist: str | None = None) -> list[CaseLink]:
    """Questionnaires that came back since the therapist last looked, newest first."""
    return _visible(patient_repository().returned_since_seen(therapist))


def mark_link_seen(link_id: int) -> PatientLink:
    """Record that the therapist has looked at what came back through the link."""
    link = patient_repository().link(link_id)
    _guard("case.view", link.case_id)
    return patient_repository().mark_seen(link_id)


# The patient's side: the code is the only key -------------------------------------------------


def open_patient_link(code: str, client: str | None) -> PatientLink:
    """The link a typed or scanned code opens, recorded as opened.

    The same LinkRefused for an unknown, mistyped, expired or revoked code; TooManyAttempts
    after repeated wrong codes from the client address ``client`` (None when not known: such
    clients share one bucket), counted in the database, right code or wrong. The audit log gets
    each opening and each refused code, with the link when the code belongs to one (never the
    code or the client); attempts while a client is paused are refused unread and not logged,
    so a guesser cannot fill the log.
    """
    now = link_codes.utc_now()
    bucket, policy = link_codes.code_client_bucket(client)
    attempts = sign_in_attempts()
    locked = attempts.locked_until([bucket], now)
    if locked is not None:
        raise TooManyAttempts(locked, now)
    repo = patient_repository()
    found: list[PatientLink] = []

    def find(token_hash: str) -> PatientLink | None:
        link = repo.find_by_hash(token_hash)
        found.extend([link] if link else [])
        return link

    try:
        link = link_codes.resolve(code, now, find)
    except LinkRefused:
        locked = attempts.fail(bucket, policy, now).lock_at(now)
        if locked is not None:
            _audit_refused_code(found, "; too many wrong codes, client paused")
            raise TooManyAttempts(locked, now) from None
        _audit_refused_code(found, "")
        raise
    opened = repo.mark_opened(link.id)
    _audit_patient("viewed", opened, "questionnaire opened by its code")
    return opened


def _audit_patient(action: AuditAction, link: PatientLink, detail: str) -> None:
    """Log what came through ``link``: the link stands for the anonymous patient; never answers."""
    holder = repository().owner(link.case_id)
    audit_log().record(f"patient link {link.id}", action, holder.id, holder.reference, detail)


def _audit_refused_code(found: list[PatientLink], paused: str) -> None:
    if not found:
        audit_log().record(UNKNOWN_CODE, "code_refused", detail=f"no link has this code{paused}")
        return
    link = found[0]
    why = "was revoked" if link.revoked_at is not None else "has expired"
    _audit_patient("code_refused", link, f"code of a link that {why}{paused}")


def patient_link(link_id: int) -> PatientLink:
    """A link the patient opened earlier in this visit, while it still works (LinkRefused once
    it expired, was revoked or was deleted with its case)."""
    try:
        link = patient_repository().link(link_id)
    except PatientLinkNotFound:
        raise LinkRefused() from None
    if not link.usable(link_codes.utc_now()):
        raise LinkRefused()
    return link


def patient_wording() -> PatientWording:
    """The words on every questionnaire: importance, saving, urgent help and the thank-you."""
    patient = content().patient
    if patient is None:
        raise KeyError("this content has no patient questionnaires (content/patient/)")
    return patient.wording


def patient_questionnaire(link: PatientLink) -> QuestionnaireSet:
    """The title, introduction and sections of the link's questionnaire."""
    patient = content().patient
    if patient is None:
        raise KeyError("this content has no patient questionnaires (content/patient/)")
    return patient.questionnaire(link.set_id)


def patient_questions(link: PatientLink) -> list[Question]:
    """The questions of the link's questionnaire, with the case's own anxiety measure."""
    anxiety = repository().get(link.case_id).case.anxiety_measure
    return questions(content(), link.set_id, anxiety)


def patient_link_answers(link_id: int) -> dict[str, dict[str, Any]]:
    """What the patient has answered through the link so far, by item key."""
    patient_link(link_id)
    return {key: answer.payload for key, answer in patient_repository().answers(link_id).items()}


def save_patient_answer(link_id: int, item_key: str, payload: dict[str, Any]) -> None:
    """Check one answer against its question and save it as given.

    LinkRefused once the link stopped working, LinkClosed once the questionnaire is finished,
    ValueError for an answer that does not fit the question. Free text is checked for
    identifiers (IdentifiersFound, nothing saved); patients are not offered to save it as
    written, only to remove what was found or to change the text.
    """
    link = patient_link(link_id)
    if not link.accepts_answers(link_codes.utc_now()):
        raise LinkClosed()
    question = {q.key: q for q in patient_questions(link)}.get(item_key)
    if question is None:
        raise ValueError(f"{item_key!r} is not a question of this questionnaire")
    parsed = parse_answer(question, payload)
    if question.kind == "open" and isinstance(parsed["value"], str):
        parsed["value"] = parsed["value"].strip() or None
        if parsed["value"]:
            check_identifiers({item_key: parsed["value"]})
    patient_repository().save_answer(link_id, item_key, parsed)
    _audit_patient("answered", link, f"answer {item_key}")
    _refresh_for_patient(link.case_id)


def complete_patient_link(link_id: int) -> PatientLink:
    """The patient has finished: the answers stop changing and the therapist is told."""
    link = patient_link(link_id)
    completed = patient_repository().complete(link_id)
    if link.completed_at is None:
        _audit_patient("answered", link, "questionnaire finished")
    return completed


def _refresh_for_patient(case_id: int) -> None:
    """Keep the case's figures current after a patient's answer, when its fit uses them."""
    if (patient_repository().answer_source(case_id) or "therapist") != "therapist":
        # The patient has no account: the flags this raises are the patient link's doing.
        with acting_as(local_actor(PATIENT_USER)):
            refresh_case(case_id)


# The therapist's side: what came back ----------------------------------------------------------


@dataclass(frozen=True)
class PatientVoice:
    """What the patient said about a case, beside the therapist's own answers."""

    patient: PatientAnswers
    # The case's answers, with the alliance check of the session the patient answered about.
    therapist: Answers
    alliance_session: int | None
    comparisons: list[Comparison]
    gaps: list[Flag]


def patient_answers_for_case(case_id: int) -> tuple[PatientAnswers, int | None]:
    """The patient's latest answer to each item across the case's links (revoked ones left out),
    and the session their alliance answers are about.

    The alliance answers are those about one session: the one most recently answered about.
    """
    _guard("case.view", case_id)
    return _patient_answers(case_id)


def _patient_answers(case_id: int) -> tuple[PatientAnswers, int | None]:
    collected = patient_repository().collected_answers(case_id)
    alliance = [
        a for k, a in collected.get("after_session", {}).items() if k.startswith("alliance.")
    ]
    session = max(alliance, key=lambda a: a.updated_at).session_number if alliance else None
    latest: dict[str, Any] = {}
    for answers in collected.values():
        for key, answer in answers.items():
            if key.startswith("alliance.") and answer.session_number != session:
                continue
            if key not in latest or answer.updated_at > latest[key].updated_at:
                latest[key] = answer
    payloads = {key: answer.payload for key, answer in latest.items()}
    return PatientAnswers.from_payloads(payloads), session


def patient_voice(case_id: int) -> PatientVoice:
    """The patient's answers beside the therapist's, item by item, and the perception gaps."""
    case = open_case(case_id).case
    patient, session = patient_answers_for_case(case_id)
    therapist = therapist_view(case, session)
    lib = content()
    return PatientVoice(
        patient=patient,
        therapist=therapist,
        alliance_session=session,
        comparisons=side_by_side(lib, therapist, patient),
        gaps=perception_gaps(lib, therapist, patient),
    )


def answer_source(case_id: int) -> Source:
    """Which answers the case's fit uses; the therapist's until someone chooses."""
    _guard("case.view", case_id)
    return patient_repository().answer_source(case_id) or "therapist"


def set_answer_source(case_id: int, source: Source) -> None:
    """Choose which answers the case's fit uses (ValueError for an unknown source)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    with _changing(case_id, f"fit uses answers: {source}"):
        patient_repository().set_answer_source(case_id, source, current_user())
        refresh_case(case_id)


def as_assessed(case_id: int, case: Case, source: Source | None = None) -> Case:
    """The case with the answers its fit uses: the therapist's, or merged with the patient's
    as chosen for the case (``source`` when already known). For the stored figures and flags,
    so the caseload shows the fit the therapist's report shows; no access check (callers
    have made theirs)."""
    if source is None:
        source = patient_repository().answer_source(case_id) or "therapist"
    if source == "therapist":
        return case
    patient, _ = _patient_answers(case_id)
    merged, _ = merge(case.answers, as_answers(content(), patient), source)
    return case.model_copy(update={"answers": merged})


def fit_with_source(case_id: int) -> tuple[FitReport, Source]:
    """The case's fit report on its chosen answers, each dimension saying whose answer it used.

    The one fit of a stored case: the walk-through's report, the timeline, the case review, both
    PDFs and the caseload's stored figures (through ``as_assessed``, the same merge) all show it,
    so a case never shows one fit in one place and another elsewhere.
    """
    stored = open_case(case_id)
    source = answer_source(case_id)
    patient, _ = patient_answers_for_case(case_id)
    merged, sources = merge(stored.case.answers, as_answers(content(), patient), source)
    report = assess(content(), stored.case.model_copy(update={"answers": merged}))
    dimensions = [
        d.model_copy(
            update={
                "source": None
                if d.status == "unanswered"
                else sources.get(("preferences", d.item_id))
            }
        )
        for d in report.dimensions
    ]
    return report.model_copy(update={"dimensions": dimensions}), source


@dataclass(frozen=True)
class PatientMeasures:
    """What the patient answered before one session: each measure scored, and item by item."""

    link: PatientLink
    scores: list[MeasureScore]
    # (measure, item, the answer in the words the patient chose), in questionnaire order.
    items: list[tuple[str, str, str]]
    # The answers as a session records them: measure id -> item id -> value.
    answers: dict[str, dict[str, Any]]

    @property
    def risk(self) -> bool:
        """A risk item (PHQ-9 item 9) was answered above 0."""
        return any(score.risk for score in self.scores)


def patient_measures(case_id: int) -> list[PatientMeasures]:
    """The measures the patient answered through each before-session link (revoked ones left
    out), newest first."""
    _guard("case.view", case_id)
    lib = content()
    found = []
    for link in patient_repository().links(case_id):
        if link.set_id != "before_session" or link.revoked_at is not None or not link.answered:
            continue
        payloads = {k: a.payload for k, a in patient_repository().answers(link.id).items()}
        answered = PatientAnswers.from_payloads(payloads).measures
        scores, items, answers = [], [], {}
        for measure in sorted(lib.measures, key=lambda m: MEASURE_ROLES.index(m.role)):
            given = answered.get(measure.id)
            if not given:
                continue
            scores.append(score_measure(measure, given))
            answers[measure.id] = dict(given)
            words = {o.value: o.label for o in measure.options}
            for item in measure.items:
                value = given.get(item.id)
                if value is not None:
                    words_for = item.not_applicable if value == "na" else words.get(value)
                    items.append((measure.short_name, item.text, str(words_for or value)))
        found.append(PatientMeasures(link, scores, items, answers))
    return found


def patient_session_measures(case_id: int, number: int) -> PatientMeasures | None:
    """What the patient answered before session ``number``: the newest link for that session
    with answers (revoked ones left out), or None."""
    return next((m for m in patient_measures(case_id) if m.link.session_number == number), None)


def copy_patient_measures(case_id: int, number: int, expected_revision: int | None = None) -> int:
    """Record in session ``number`` the measures the patient answered before it, by link, and
    return the session's new revision.

    Each measure the patient answered replaces the session's entries for that measure, item by
    item as the patient gave them (what was there before stays in the change history); the
    session's other measures, alliance check and note are left as they are. LookupError when
    the session is not recorded yet or the patient answered none of its measures; StaleSession
    as ``record_session`` when someone changed the session since ``expected_revision``.
    """
    stored = open_case(case_id)
    session = next((s for s in stored.case.sessions if s.number == number), None)
    if session is None:
        raise LookupError(f"session {number} is not recorded yet: add it first")
    found = patient_session_measures(case_id, number)
    recorded = {m.id for m in recorded_measures(content(), stored.case.anxiety_measure)}
    copied = {m: items for m, items in (found.answers if found else {}).items() if m in recorded}
    if not copied:
        raise LookupError(f"the patient has answered no measure before session {number}")
    data = session.model_dump()
    data["measures"] = {**data["measures"], **copied}
    # The note is not changed here: it was checked (or kept as written) when it was saved.
    return record_session(case_id, data, expected_revision, allow_identifiers=True)


# Free text coded into the study's themes ------------------------------------------------------


@dataclass(frozen=True)
class CodedText:
    """A free-text answer with the themes the coder suggests and what clinicians decided."""

    source: str
    who: str
    label: str
    text: str
    codes: list[ThemeCode]
    decisions: dict[str, CodeDecision]


@lru_cache(maxsize=THEME_CODE_CACHE)
def _theme_codes(directory: Path, text: str) -> tuple[ThemeCode, ...]:
    return tuple(code_text(library(directory).lexicon, text))


def theme_codes(text: str) -> list[ThemeCode]:
    """The themes the content's lexicon suggests for a text, with the words behind each."""
    return list(_theme_codes(content_dir(), text))


def _open_label(answer: OpenAnswer, lib: ContentLibrary) -> str:
    """Which question a free-text answer replies to, on which questionnaire and session."""
    if lib.patient is None:
        return answer.item_key
    try:
        question = lib.patient.open_question(answer.item_key.removeprefix("open.")).question
        title = lib.patient.questionnaire(answer.set_id).title
    except KeyError:
        return answer.item_key
    session = f", session {answer.session_number}" if answer.session_number else ""
    return f"{question} ({title}{session})"


def coded_texts(case_id: int) -> list[CodedText]:
    """Every free-text answer of the case, the patient's and the therapist's, with suggested
    theme codes and the latest decision about each."""
    stored = open_case(case_id)
    lib = content()
    texts: list[tuple[str, str, str, str]] = [
        (a.source, "patient", _open_label(a, lib), a.text)
        for a in patient_repository().open_answers(case_id)
    ]
    for domain in lib.social:
        note = stored.case.answers.social.get(domain.id)
        if note is not None and note.note.strip():
            texts.append(
                (f"therapist:social.{domain.id}.note", "therapist", domain.title, note.note)
            )
    for session in stored.case.sessions:
        if session.note.strip():
            texts.append(
                (
                    f"therapist:session.{session.number}.note",
                    "therapist",
                    f"Session {session.number} note",
                    session.note,
                )
            )
    decided: dict[str, dict[str, CodeDecision]] = {}
    for decision in patient_repository().code_decisions(case_id):
        decided.setdefault(decision.source, {})[decision.theme] = decision
    return [
        CodedText(source, who, label, text, theme_codes(text), decided.get(source, {}))
        for source, who, label, text in texts
    ]


def decide_code(case_id: int, source: str, theme: str, decision: CodeDecisionKind) -> CodeDecision:
    """Accept or reject a theme the coder suggests for one of the case's texts, keeping the words
    that suggested it (ValueError if the text has no such suggestion now)."""
    text = next((t for t in coded_texts(case_id) if t.source == source), None)
    code = next((c for c in text.codes if c.theme == theme), None) if text else None
    if code is None:
        raise ValueError(f"no {theme!r} suggestion for {source!r}: the text may have changed")
    with _changing(case_id, f"theme {theme} {decision}"):
        evidence = [e.model_dump() for e in code.evidence]
        return patient_repository().record_code_decision(
            case_id, source, theme, evidence, decision, current_user()
        )


@dataclass(frozen=True)
class ThemeTally:
    """How many patient texts carry a theme: accepted by a clinician, suggested and not yet
    decided, or rejected."""

    theme: str
    title: str
    accepted: int = 0
    undecided: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class FeedbackThemes:
    """The themes of patient feedback across the caseload and per therapist."""

    texts: int
    overall: list[ThemeTally]
    by_therapist: dict[str, list[ThemeTally]]


def patient_feedback_themes(include_archived: bool = False) -> FeedbackThemes:
    """Count the themes of every patient free-text answer on the cases the actor may see.

    A text counts once per theme: as accepted or rejected by the latest decision, else as
    suggested and undecided. A decision stands even if the coder no longer suggests the theme.
    """
    answers = patient_repository().open_answers(include_archived=include_archived)
    owners = access.visible_owners(current_actor())
    if owners is not None:
        answers = [a for a in answers if a.therapist in owners]
    decided: dict[tuple[int, str], dict[str, str]] = {}
    for d in patient_repository().patient_code_decisions(sorted({a.case_id for a in answers})):
        decided.setdefault((d.case_id, d.source), {})[d.theme] = d.decision
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for answer in answers:
        decisions = decided.get((answer.case_id, answer.source), {})
        for theme in {c.theme for c in theme_codes(answer.text)} | set(decisions):
            state = decisions.get(theme, "undecided")
            for who in ("", answer.therapist):
                tally = counts.setdefault((who, theme), {})
                tally[state] = tally.get(state, 0) + 1
    titles = {t.id: t.title for t in content().themes}

    def tallies(who: str) -> list[ThemeTally]:
        return [
            ThemeTally(theme, title, **counts[(who, theme)])
            for theme, title in titles.items()
            if (who, theme) in counts
        ]

    by_therapist = {t: tallies(t) for t in sorted({a.therapist for a in answers})}
    return FeedbackThemes(
        texts=len(answers),
        overall=tallies(""),
        by_therapist={t: rows for t, rows in by_therapist.items() if rows},
    )
