"""What every repository shares: column widths, checks of values, locks on a case, JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice, repeat
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from tailoring.storage.errors import (
    CaseNotFound,
    StaleAnswer,
    StaleSession,
)
from tailoring.storage.tables import (
    cases,
)

# A real case, or a trainee's attempt at a teaching scenario.
Kind = Literal["case", "attempt"]

KINDS: tuple[Kind, ...] = ("case", "attempt")


# The width of the id columns: protocol_id, item_id, anxiety_measure, scenario_id, the problems.
ID_LENGTH = 40

ACTOR_LENGTH = 80  # also the width of therapist, author, editor and flag_id


THEME_LENGTH = 24

TITLE_LENGTH = 200


# Rows per statement when looking references or cases up by a list of them.
REFERENCE_BATCH = 500

# Rows per executemany in an import: enough to be fast, few enough to bound memory.
INSERT_BATCH = 10_000


def touch_case(connection: Connection, case_id: int, now: datetime) -> int:
    """Bump the case's version, locking the case until commit; return the new version."""
    version = connection.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(version=cases.c.version + 1, updated_at=now)
        .returning(cases.c.version)
    ).scalar_one_or_none()
    if version is None:
        raise CaseNotFound()
    return version


def require_case(connection: Connection, case_id: int) -> None:
    """CaseNotFound unless a case has this id."""
    if connection.execute(select(cases.c.id).where(cases.c.id == case_id)).first() is None:
        raise CaseNotFound()


def check_revision(
    connection: Connection,
    table: Table,
    key: tuple[ColumnElement[bool], ...],
    expected: int | None,
    stale: type[StaleAnswer | StaleSession],
) -> tuple[dict[str, Any] | None, int]:
    """The stored payload and revision of an answer or session, or (None, 0) if there is none.

    Raises ``stale`` with both if the revision is not ``expected``.
    """
    stored = connection.execute(select(table.c.payload, table.c.revision).where(*key)).one_or_none()
    current = json.loads(stored.payload) if stored else None
    revision = stored.revision if stored else 0
    if expected is not None and expected != revision:
        raise stale(current, revision)
    return current, revision


def lock_case(connection: Connection, case_id: int) -> None:
    """Lock the case until commit without changing it (CaseNotFound if there is none)."""
    locked = connection.execute(
        update(cases).where(cases.c.id == case_id).values(version=cases.c.version)
    )
    if not locked.rowcount:
        raise CaseNotFound()


def insert_many(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
    **constants: Any,
) -> None:
    """Insert ``rows``, values of ``columns``, each with the same ``constants``, through the driver.

    SQLAlchemy builds and converts the parameters of every row one by one, which at a million
    rows costs more than the database's own work. Here the constants are converted once, the
    columns whose type needs it on this backend a batch at a time, and the driver gets each batch
    (so memory stays bounded) with the statement SQLAlchemy compiled.
    """
    dialect = connection.dialect
    names = (*columns, *constants)
    compiled = (
        insert(table).values({name: bindparam(name) for name in names}).compile(dialect=dialect)
    )
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    fixed = [
        process(value) if process else value
        for process, value in zip(processors[len(columns) :], constants.values(), strict=True)
    ]
    rows = iter(rows)
    while batch := list(islice(rows, INSERT_BATCH)):
        values: list[Iterable[Any]] = [*zip(*batch, strict=True)]
        for i, process in enumerate(processors[: len(columns)]):
            if process:
                values[i] = [*map(process, values[i])]
        values += [repeat(value, len(batch)) for value in fixed]
        if compiled.positional:
            ordered = [values[names.index(name)] for name in compiled.positiontup or ()]
            parameters: list[Any] = [*zip(*ordered, strict=True)]
        else:
            parameters = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        connection.exec_driver_sql(compiled.string, parameters)


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_kind(kind: str) -> None:
    """Refuse kinds the database would refuse, before touching it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def check_id(name: str, value: str, longest: int = ID_LENGTH) -> None:
    """Refuse ids the database column cannot hold, the same way on every backend."""
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise ValueError(f"{name} must be 1–{longest} characters long")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse a value outside ``choices`` before the database does, naming the field."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def check_finite(name: str, value: float | None, optional: bool = True) -> None:
    """Refuse numbers a backend would store differently (SQLite turns NaN into NULL)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number" + (" or None" if optional else ""))


def check_count(name: str, value: int) -> None:
    """Refuse a count that is not a whole number from 0 up."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number from 0 up")


def checked_time(at: datetime | None) -> datetime:
    """``at``, or now when None; naive times are refused, as the database would."""
    if at is None:
        return utc_now()
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at


def payload_json(model: BaseModel) -> str:
    """The JSON text stored for an answer, a session or a grade."""
    return to_json(model.model_dump(mode="json"))


def to_json(data: dict[str, Any] | list[Any]) -> str:
    """JSON text of a payload, the same text for the same data."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
