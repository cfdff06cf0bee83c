"""What every use case shares: the content, the unit of work, who is acting, guards and audit.

Every use case runs in one unit of work (``unit_of_work``): one transaction in which its change,
the figures derived from it and its audit entries are stored together or not at all. A use case
called from inside another joins the caller's unit, so the outermost one decides.

Local mode (the default): no login; one user, named by TAILORING_USER, who may do everything.
Team mode (TAILORING_MODE=team, or set_mode("team") from the app's secrets): every use case asks
tailoring.access whether the signed-in actor may act on the case, and the audit log records who
viewed, created, changed, exported or deleted which case. The app tells services who is signed
in through use_actor_source; the command line and tests use acting_as.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from tailoring import access, settings
from tailoring.access import Action
from tailoring.content import library
from tailoring.model.actor import Actor, local_actor
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.storage import unit_of_work as units
from tailoring.storage.audit import AuditAction
from tailoring.storage.cases import CaseOwner
from tailoring.storage.db import database_url, make_engine
from tailoring.storage.errors import CaseNotFound
from tailoring.storage.unit_of_work import UnitOfWork

MODES = ("local", "team")
# Who the app's own upkeep acts as (loading the demo cases, computing missing figures).
SYSTEM_USER = "system"
# Who changes a case's figures and flags when a patient answers through a link.
PATIENT_USER = "patient (by link)"
# Who the audit log names for a patient code that belongs to no link.
UNKNOWN_CODE = "(unknown patient code)"
# A case opened again within this many seconds by the same person is not logged again.
VIEW_AUDIT_SECONDS = 15 * 60
_mode: list[str] = []  # set_mode's choice; until the app makes one, the settings decide
_acting: ContextVar[Actor | None] = ContextVar("tailoring_acting", default=None)
_actor_source: list[Callable[[], Actor | None]] = []
_last_viewed: dict[tuple[str, str, int], float] = {}
# The unit of work of the use case running in this context (thread), if any.
_unit: ContextVar[UnitOfWork | None] = ContextVar("tailoring_unit", default=None)


class CaseFileError(ValueError):
    """A case file or case form that does not validate; ``problems`` name each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def content() -> ContentLibrary:
    """The validated content library (raises ContentError naming the file and field)."""
    return library()


@lru_cache(maxsize=4)
def engine_at(url: str) -> Engine:
    """The app's engine on the database at ``url``: one per database and process.

    ``engine_at.cache_clear()`` forgets them, as a restarted server would.
    """
    return make_engine(url)


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    """The unit of work of a use case, on the configured database (TAILORING_DATABASE_URL).

    Inside another use case's unit this is that unit: nothing commits until the outermost
    block ends, and nothing at all if anything in it raises.
    """
    joined = _unit.get()
    if joined is not None:
        yield joined
        return
    with units.unit_of_work(engine_at(database_url())) as unit:
        token = _unit.set(unit)
        try:
            yield unit
        finally:
            _unit.reset(token)


class NotSignedIn(PermissionError):
    """Team mode, and nobody is signed in."""

    def __init__(self) -> None:
        super().__init__("Sign in to continue: your session ended or you are not signed in.")


def set_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    _mode[:] = [mode]


def team_mode() -> bool:
    return (_mode[0] if _mode else settings.current().mode) == "team"


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
    return actor or local_actor(settings.current().user[:80])


def current_user() -> str:
    """Who is acting, for correction records, flag events, notes and the audit log."""
    return current_actor().username


def may(action: Action, case_id: int | None = None) -> bool:
    """Whether the current actor may take ``action`` (on this case): for showing a control."""
    if case_id is None:
        return access.allowed(current_actor(), action)
    with unit_of_work() as uow:
        holder = uow.cases.owner(case_id)
    return access.allowed(current_actor(), kind_action(action, holder.kind), holder.therapist)


def kind_action(action: Action, kind: str) -> Action:
    """``case.view`` of an attempt is ``attempt.view`` (and edit likewise)."""
    if kind == "attempt" and action in ("case.view", "case.edit", "case.export"):
        return "attempt.view" if action == "case.view" else "attempt.edit"
    return action


def guard(
    action: Action, case_id: int | None = None, reference: str | None = None
) -> CaseOwner | None:
    """Refuse (AccessDenied) unless the actor may take ``action`` on the case; return its holder.

    None when the reference is not stored (a case file being exported from the command line):
    only the local user may do that.
    """
    actor = current_actor()
    try:
        with unit_of_work() as uow:
            holder = uow.cases.owner(case_id, reference)
    except CaseNotFound:
        if reference is not None and actor.local:
            return None
        raise
    require_on(action, holder)
    return holder


def require_on(action: Action, holder: CaseOwner) -> None:
    """Refuse (AccessDenied) unless the actor may take ``action`` on this holder's case."""
    access.require(current_actor(), kind_action(action, holder.kind), holder.therapist, holder.kind)


def audit(action: AuditAction, holder: CaseOwner | None, detail: str = "") -> None:
    """Log what the current actor did to the holder's case, when the use case commits.

    A case opened again within VIEW_AUDIT_SECONDS by the same person is not logged again.
    """
    if holder is None:
        return
    with unit_of_work() as uow:
        if action == "viewed":
            key = (database_url(), current_user(), holder.id)
            now = time.monotonic()
            if now - _last_viewed.get(key, -VIEW_AUDIT_SECONDS) < VIEW_AUDIT_SECONDS:
                return
            _last_viewed[key] = now
            uow.undo_on_rollback(lambda: _last_viewed.pop(key, None))
        uow.record(current_user(), action, holder.id, holder.reference, detail)


def log_export(detail: str, case_id: int | None = None, reference: str | None = None) -> None:
    """Refuse (AccessDenied) unless the actor may export the case; log the export with the use
    case that makes it."""
    with unit_of_work():
        audit("exported", guard("case.export", case_id, reference), detail)


@contextmanager
def changing(case_id: int, detail: str) -> Iterator[UnitOfWork]:
    """A change to a case (or attempt) in one unit of work: guarded, then logged with it.

    A change refused inside the block (stale, invalid, an identifier) is not logged, and
    nothing of it is stored.
    """
    with unit_of_work() as uow:
        holder = guard("case.edit", case_id)
        yield uow
        audit("changed", holder, detail)


def validated_case(data: dict[str, Any]) -> Case:
    try:
        return Case.model_validate(data, context={"content": content()})
    except ValidationError as exc:
        raise CaseFileError(validation_problems(exc)) from None


def validation_problems(exc: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        message = str(err["msg"]).removeprefix("Value error, ")
        if loc:
            problems.append(f"{loc}: {message}")
        else:
            problems.extend(message.split("; "))
    return problems
