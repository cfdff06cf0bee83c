"""Storage for tests to arrange and inspect: each repository call in a unit of work of its own.

The app reaches storage only through use cases; tests also set storage up (accounts, imported
cases, figures) and read what a use case left there. ``Store`` gives them every repository of a
unit of work, each call committed when it returns, as a one-step use case would commit it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from tailoring.model.caseload import AllianceTrend
from tailoring.services.shared import unit_of_work
from tailoring.storage import unit_of_work as units
from tailoring.storage.caseload import CASELOAD_FIELDS, caseload_query, open_flags
from tailoring.storage.unit_of_work import UnitOfWork

Unit = Callable[[], AbstractContextManager[UnitOfWork]]


class Committing:
    """One repository of a unit of work (named, or made from the unit by ``repository``), each
    method call in a unit of its own."""

    def __init__(self, unit: Unit, repository: str | Callable[[UnitOfWork], Any]) -> None:
        self._unit = unit
        self._repository = repository

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._unit() as uow:
                made = self._repository
                repository = getattr(uow, made) if isinstance(made, str) else made(uow)
                return getattr(repository, method)(*args, **kwargs)

        return call


class Store:
    """Every repository of a unit of work (``store.cases.get(...)``), each call committed."""

    def __init__(self, unit: Unit = unit_of_work) -> None:
        self.unit = unit

    @classmethod
    def on(cls, engine: Engine) -> Store:
        """The store of the database behind ``engine``."""
        return cls(lambda: units.unit_of_work(engine))

    def __getattr__(self, repository: str) -> Committing:
        return Committing(self.unit, repository)


def repository_methods(store: Store) -> set[str]:
    """The public methods of every repository a unit of work has: all the ways to storage."""
    with store.unit() as uow:
        repositories = [vars(uow)[name] for name in vars(uow) if not name.startswith("_")]
    return {
        name
        for repository in repositories
        if not isinstance(repository, Connection)
        for name in dir(type(repository))
        if not name.startswith("_")
    }


def app_store() -> Store:
    """The store of the database the app's use cases use (TAILORING_DATABASE_URL)."""
    return Store()


def case_id_of(reference: str, store: Store | None = None) -> int:
    """The id of the stored case (or attempt) with this reference."""
    with (store or app_store()).unit() as uow:
        return uow.cases.owner(reference=reference).id


@dataclass(frozen=True)
class CaseloadRow:
    """One line of the caseload with every stored column: a case, its sessions, its figures.

    The figures (``fit`` to ``computed_at``) are None until they are first computed.
    """

    id: int
    reference: str
    therapist: str
    protocol_id: str
    status: str
    sessions_available: int
    sessions: int
    last_session: date | None
    updated_at: datetime
    fit: float | None
    completeness: float | None
    flags_high: int | None
    flags_medium: int | None
    flags_low: int | None
    alliance_latest: float | None
    alliance_trend: AllianceTrend | None
    outcome: str | None
    sessions_recorded: int | None
    sessions_attended: int | None
    treatment_sessions_attended: int | None
    dropped_after_first: bool | None
    caseness_at_start: bool | None
    finished: bool | None
    recovery: bool | None
    reliable_recovery: bool | None
    reliable_improvement: bool | None
    deterioration: bool | None
    not_on_track: bool | None
    wait_first_appointment: int | None
    wait_first_treatment: int | None
    wait_second_treatment: int | None
    open_flag_ids: tuple[dict[str, Any], ...] | None
    computed_at: datetime | None


def caseload_rows(
    store: Store | None = None, include_archived: bool = False, therapist: str | None = None
) -> list[CaseloadRow]:
    """Every real case with its stored figures (None before the first), in id order."""
    with (store or app_store()).unit() as uow:
        rows = uow.connection.execute(caseload_query(include_archived, therapist)).all()
    return [CaseloadRow(*row[:-2], open_flags(row.open_flag_ids), row.computed_at) for row in rows]


def caseload_columns(
    store: Store | None = None, include_archived: bool = False, therapist: str | None = None
) -> dict[str, list[Any]]:
    """``caseload_rows`` as columns, ``open_flag_ids`` as the stored JSON text."""
    with (store or app_store()).unit() as uow:
        rows = uow.connection.execute(caseload_query(include_archived, therapist)).all()
    columns = zip(*rows, strict=True) if rows else ([] for _ in CASELOAD_FIELDS)
    return {name: list(column) for name, column in zip(CASELOAD_FIELDS, columns, strict=True)}
