"""The database itself: start-up, migrations, roles and the audit chain's check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from tailoring import access, settings
from tailoring.access import AccessDenied
from tailoring.model.actor import local_actor
from tailoring.services.caseload_import import store_demo_caseload
from tailoring.services.figures import refresh_case
from tailoring.services.files import demo_case_paths, parse_case_file
from tailoring.services.shared import (
    SYSTEM_USER,
    acting_as,
    current_actor,
    engine_at,
    unit_of_work,
)
from tailoring.storage import unit_of_work as units
from tailoring.storage.audit import ChainCheck
from tailoring.storage.db import (
    build_engine,
    database_url,
    grant_app_role,
    migrate,
    require_current,
    schema_revisions,
)
from tailoring.storage.unit_of_work import UnitOfWork

# Cases whose missing figures each start (each rerun of the app) computes.
BACKFILL_PER_START = 25
_demo_checked: set[str] = set()


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
        with units.unit_of_work(engine) as uow:
            return uow.audit.check(expected)


def start(load_demo: bool | None = None) -> None:
    """Check storage (SchemaOutdated before `db upgrade`); load the demo cases into an empty one.

    The app calls this on every rerun: the demo cases load at most once per database and process,
    so deleting every case does not bring them back on the next click.
    """
    with acting_as(local_actor(SYSTEM_USER)):
        _start(load_demo)


def _start(load_demo: bool | None) -> None:
    if load_demo is None:
        load_demo = settings.current().demo
    url = database_url()
    # SchemaOutdated before anything is noted: once `db upgrade` has run, the next start of this
    # process still loads the demo cases.
    engine_at(url)
    if url not in _demo_checked:
        _demo_checked.add(url)
        if load_demo:
            with unit_of_work() as uow:
                if uow.cases.count() == 0:
                    _store_demo_cases(uow)
    # Cases stored before their figures were kept (or imported in bulk) get them a few at a time,
    # each in a unit of work of its own.
    with unit_of_work() as uow:
        waiting = uow.caseload.cases_without_metrics(BACKFILL_PER_START)
    for case_id in waiting:
        refresh_case(case_id)


def fill_new_demo_database(cases: int, seed: int = 0) -> list[int] | None:
    """A new database made ready for a demonstration (scripts/run's first start on the embedded
    default): the demo cases the app loads, then ``cases`` invented ones, in one unit of work.

    None, with nothing stored, when the database is not new (it has cases, or its audit log has
    an entry: someone has used it, if only to delete every case) or TAILORING_DEMO is 0; so a
    restart adds nothing. Otherwise the ids stored, the demo cases first; their figures are left
    to ``compute_figures``.
    """
    if not settings.current().demo:
        return None
    with acting_as(local_actor(SYSTEM_USER)), unit_of_work() as uow:
        if uow.cases.count() or uow.audit.entries(limit=1):
            return None
        return _store_demo_cases(uow) + store_demo_caseload(cases, seed)


def _store_demo_cases(uow: UnitOfWork) -> list[int]:
    """Store the demo cases (content/demo); their ids."""
    return [
        uow.cases.create(parse_case_file(path.read_text(encoding="utf-8")))
        for path in demo_case_paths()
    ]
