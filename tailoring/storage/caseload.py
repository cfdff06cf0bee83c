"""The caseload's stored figures and flag changes, read for the dashboard; bulk import.

Just over 500 lines: the dashboard's fast reads (a column at a time, converted once per value)
and the bulk insert through the driver belong with the figures they read and write.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Select,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from tailoring.model.case import (
    Case,
)
from tailoring.model.caseload import CaseMetrics
from tailoring.model.report import SEVERITIES
from tailoring.storage.cases import CASE_FIELDS, answer_items, case_values, check_case_ids
from tailoring.storage.common import (
    ACTOR_LENGTH,
    REFERENCE_BATCH,
    batches,
    check_count,
    check_finite,
    check_id,
    insert_many,
    to_json,
    utc_now,
)
from tailoring.storage.errors import (
    ReferenceTaken,
)
from tailoring.storage.supervision import (
    FLAG_EVENT_FIELDS,
    FlagEvent,
    FlagState,
    check_flag_states,
    flag_changes,
)
from tailoring.storage.tables import (
    answers,
    case_metrics,
    cases,
    flag_events,
    sessions,
)

# The columns of a caseload line, in the order of CaseloadRow and of caseload_frame's keys.
CASELOAD_CASE_FIELDS = (
    "id",
    "reference",
    "therapist",
    "protocol_id",
    "status",
    "sessions_available",
)

# The stored figures; open_flag_ids and computed_at stay last (``caseload`` relies on it).
METRICS_FIELDS = (
    "fit",
    "completeness",
    "flags_high",
    "flags_medium",
    "flags_low",
    "alliance_latest",
    "alliance_trend",
    "outcome",
    "sessions_recorded",
    "sessions_attended",
    "treatment_sessions_attended",
    "dropped_after_first",
    "caseness_at_start",
    "finished",
    "recovery",
    "reliable_recovery",
    "reliable_improvement",
    "deterioration",
    "not_on_track",
    "wait_first_appointment",
    "wait_first_treatment",
    "wait_second_treatment",
    "open_flag_ids",
    "computed_at",
)

# The figures stored as the model's fields of the same name; the rest are derived from it.
MODEL_METRICS_FIELDS = tuple(
    name
    for name in METRICS_FIELDS
    if name not in ("flags_high", "flags_medium", "flags_low", "open_flag_ids", "computed_at")
)

CASELOAD_FIELDS = (*CASELOAD_CASE_FIELDS, "sessions", "last_session", "updated_at", *METRICS_FIELDS)

# The stored times of a caseload line, which ``caseload_columns`` does not offer.
TIMES = ("updated_at", "computed_at")


@dataclass(frozen=True)
class CaseloadStamp:
    """How many real cases a database has, how many with figures, and when it last changed."""

    database: str
    cases: int
    with_figures: int
    changed_at: datetime | None
    computed_at: datetime | None
    # When the stamp was read: what changed from a moment before is what a caseload read as
    # of this stamp may lack. Not part of the stamp's identity (two reads, same caseload).
    taken_at: datetime | None = field(default=None, compare=False, hash=False)

    @property
    def without_figures(self) -> int:
        """Cases whose figures are not computed yet (e.g. just imported): not in the caseload."""
        return self.cases - self.with_figures


@dataclass(frozen=True)
class CaseFigures:
    """A case's caseload figures and the flags it raises, computed from it at ``version``."""

    case_id: int
    version: int
    metrics: CaseMetrics
    flags: tuple[FlagState, ...]


def caseload_query(
    include_archived: bool,
    therapist: str | None,
    fields: Sequence[str] = CASELOAD_FIELDS,
    with_figures: bool = False,
) -> Select[Any]:
    """The caseload in one statement: the chosen cases and their stored figures, by id.

    ``with_figures`` leaves out the cases whose figures were never computed.
    """
    columns = {
        **{name: cases.c[name] for name in (*CASELOAD_CASE_FIELDS, "last_session", "updated_at")},
        "sessions": cases.c.session_count.label("sessions"),
        **{name: case_metrics.c[name] for name in METRICS_FIELDS},
    }
    chosen = cases.alias("chosen")
    which = select(chosen.c.id).where(chosen.c.kind == "case")
    if not include_archived:
        which = which.where(chosen.c.status == "active")
    if therapist is not None:
        which = which.where(chosen.c.therapist == therapist)
    # The cases are chosen in a subquery, so the rows are read in id order: SQLite otherwise
    # reads them through the index on kind and status and sorts them afterwards, which for
    # 100,000 cases took twice as long.
    joined = cases.join(case_metrics) if with_figures else cases.outerjoin(case_metrics)
    return (
        select(*(columns[name] for name in fields))
        .select_from(joined)
        .where(cases.c.id.in_(which))
        .order_by(cases.c.id)
    )


def _caseload_column(name: str) -> Any:
    return cases.c[name] if name in cases.c else case_metrics.c[name]


def _stable_order(order: tuple[str, bool], dialect: Dialect) -> list[Any]:
    """ORDER BY terms for one caseload field as a stable sort of id-ordered rows sorts it."""
    name, descending = order
    column = cases.c.session_count if name == "sessions" else _caseload_column(name)
    if dialect.name == "postgresql" and isinstance(column.type, String):
        column = column.collate("C")  # code point order, as Python compares text
    return [column.is_(None), column.desc() if descending else column.asc(), cases.c.id]


def _real_cases(connection: Connection) -> int:
    """How many real cases (not attempts) there are: a count of an index."""
    real = select(func.count()).select_from(cases).where(cases.c.kind == "case")
    return connection.execute(real).scalar_one()


def _real_figures(connection: Connection) -> int:
    """How many real cases have figures: counts of indexes (attempts rarely have any)."""
    figures = connection.execute(select(func.count()).select_from(case_metrics)).scalar_one()
    return figures - _attempt_figures(connection)


def _attempt_figures(connection: Connection) -> int:
    """How many practice attempts have figures (storage allows it; services never store any)."""
    query = select(func.count()).select_from(cases.join(case_metrics))
    return connection.execute(query.where(cases.c.kind == "attempt")).scalar_one()


def _converted(
    values: Iterable[Any], kind: TypeEngine[Any], dialect: Dialect, described_as: Any
) -> list[Any]:
    """The driver's values of a column as SQLAlchemy gives them, converted once per value.

    ``described_as`` is the type the driver described the column with (its cursor's).
    """
    process = kind.dialect_impl(dialect).result_processor(dialect, described_as)
    if process is None:
        return list(values)
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]


def open_flags(stored: str | None) -> tuple[dict[str, Any], ...] | None:
    """The open flags of stored caseload figures, from the JSON text ``caseload_frame`` gives."""
    if stored is None:
        return None
    return tuple(json.loads(stored))


def _metrics_values(metrics: CaseMetrics) -> dict[str, Any]:
    """The ``case_metrics`` columns of the engine's figures, stamped with the time.

    The model is checked again, as a model changed after it was built is not, and NaN (which
    SQLite stores as NULL) is refused; a ValueError names the field.
    """
    if not isinstance(metrics, CaseMetrics):
        raise ValueError(f"caseload figures cannot be a {type(metrics).__name__}")
    metrics = CaseMetrics.model_validate(metrics.model_dump())  # a ValueError naming the field
    for name in ("fit", "completeness", "alliance_latest"):
        check_finite(name, getattr(metrics, name), optional=name != "completeness")
    values = {name: getattr(metrics, name) for name in MODEL_METRICS_FIELDS}
    values.update({f"flags_{s}": metrics.flags_by_severity.get(s, 0) for s in SEVERITIES})
    for name in ("sessions_recorded", "sessions_attended", "treatment_sessions_attended"):
        check_count(name, values[name])
    for severity in SEVERITIES:
        check_count(f"flags_{severity}", values[f"flags_{severity}"])
    values["open_flag_ids"] = to_json([flag.model_dump(mode="json") for flag in metrics.open_flags])
    values["computed_at"] = utc_now()
    return values


class CaseloadRepository:
    """The caseload's figures and flag changes, and bulk imports, in the transaction of
    ``connection``.

    Figures are derived from a case, not edits of it: storing them locks the case without
    bumping its version, so the version an editor holds stays current.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def import_cases(self, new_cases: Sequence[Case]) -> list[int]:
        """Store many cases with their answers and sessions in one transaction; return their ids.

        All or nothing: if any reference is taken (by a stored case or twice in ``new_cases``),
        nothing is stored and ReferenceTaken names the reference when it can. Sessions get no
        fit; the caller computes figures afterwards (see ``cases_without_metrics``).
        """
        repeated = [ref for ref, n in Counter(c.reference for c in new_cases).items() if n > 1]
        if repeated:
            raise ReferenceTaken(repeated[0])
        for case in new_cases:
            check_case_ids(case)
        if not new_cases:
            return []
        # Looked up before inserting: after a failed insert PostgreSQL refuses every further
        # statement of the transaction, so the reference could not be named then.
        taken = self.taken_references(case.reference for case in new_cases)
        if taken:
            raise ReferenceTaken(next(c.reference for c in new_cases if c.reference in taken))
        now = utc_now()
        try:
            insert_many(
                self._connection,
                cases,
                (*CASE_FIELDS, "session_count", "last_session"),
                (tuple(case_values(case).values()) for case in new_cases),
                kind="case",
                version=1,
                created_at=now,
                updated_at=now,
            )
            # Every case of this import was created at ``now``; a case created elsewhere at
            # the same microsecond would only add a reference that is not looked up.
            created = select(cases.c.reference, cases.c.id).where(cases.c.created_at == now)
            ids: dict[str, int] = dict(self._connection.execute(created).all())
            # Pydantic's own JSON is several times faster than to_json, which counts with a
            # million sessions; stored payloads are only ever compared parsed.
            insert_many(
                self._connection,
                answers,
                ("case_id", "section", "item_id", "payload"),
                (
                    (ids[case.reference], section, item_id, answer.model_dump_json())
                    for case in new_cases
                    for section, item_id, answer in answer_items(case.answers)
                ),
                revision=1,
                updated_at=now,
            )
            insert_many(
                self._connection,
                sessions,
                ("case_id", "number", "date", "payload"),
                (
                    (
                        ids[case.reference],
                        session.number,
                        session.date,
                        session.model_dump_json(),
                    )
                    for case in new_cases
                    for session in case.sessions
                ),
                revision=1,
                recorded_at=now,
                updated_at=now,
            )
        except IntegrityError as error:
            raise ReferenceTaken() from error  # taken by another import since the look-up
        return [ids[case.reference] for case in new_cases]

    def taken_references(self, references: Iterable[str]) -> set[str]:
        """Those of ``references`` that a stored case or attempt uses."""
        taken: set[str] = set()
        for batch in batches(list(dict.fromkeys(references)), REFERENCE_BATCH):
            query = select(cases.c.reference).where(cases.c.reference.in_(batch))
            taken.update(self._connection.execute(query).scalars())
        return taken

    def save_figures(self, figures: Sequence[CaseFigures], actor: str) -> list[int]:
        """Store the caseload figures and the flag changes of many cases; return the ids stored.

        What ``save_metrics`` and ``sync_flags`` do for one case, for many in one transaction
        and a few statements per REFERENCE_BATCH cases. A case whose version is no longer the
        one its figures were computed from (it changed, or was deleted, since) is skipped: the
        change's own refresh stores the figures of the case as it is now.
        """
        check_id("actor", actor, ACTOR_LENGTH)
        values = {}
        for item in figures:
            check_flag_states(item.flags)
            values[item.case_id] = _metrics_values(item.metrics)
        if len(values) != len(figures):
            raise ValueError("a case is listed more than once")
        at = utc_now()
        stored: list[int] = []
        e = flag_events.c
        for batch in batches(list(figures), REFERENCE_BATCH):
            ids = [item.case_id for item in batch]
            # Lock the cases until commit, as save_metrics and sync_flags do one by one.
            self._connection.execute(
                update(cases).where(cases.c.id.in_(ids)).values(version=cases.c.version)
            )
            versions = dict(
                self._connection.execute(
                    select(cases.c.id, cases.c.version).where(cases.c.id.in_(ids))
                ).all()
            )
            current = [item for item in batch if versions.get(item.case_id) == item.version]
            kept = [item.case_id for item in current]
            if not kept:
                continue
            self._connection.execute(delete(case_metrics).where(case_metrics.c.case_id.in_(kept)))
            insert_many(
                self._connection,
                case_metrics,
                ("case_id", *METRICS_FIELDS),
                ((i, *(values[i][name] for name in METRICS_FIELDS)) for i in kept),
            )
            histories: dict[int, list[FlagEvent]] = {i: [] for i in kept}
            history = self._connection.execute(
                select(e.case_id, *(e[name] for name in FLAG_EVENT_FIELDS))
                .where(e.case_id.in_(kept))
                .order_by(e.id)
            )
            for row in history:
                histories[row.case_id].append(FlagEvent(*row[1:]))
            insert_many(
                self._connection,
                flag_events,
                ("case_id", *FLAG_EVENT_FIELDS),
                (
                    (item.case_id, *astuple(event))
                    for item in current
                    for event in flag_changes(histories[item.case_id], item.flags, actor, at)
                ),
            )
            stored += kept
        return stored

    def caseload_columns(
        self,
        fields: Sequence[str],
        include_archived: bool = False,
        therapist: str | None = None,
        *,
        owners: Collection[str] | None = None,
        ids: Collection[int] | None = None,
        order: tuple[str, bool] | None = None,
        limit: int | None = None,
    ) -> dict[str, list[Any]]:
        """Some columns of :meth:`caseload_frame`, of the cases that have figures, in id order.

        The fast path of a dashboard over many thousands of cases: the statement goes to the
        driver as it is and each column is converted once per distinct value (a date, a yes or
        no), not once per row, so the values are those of :meth:`caseload_frame` at a fraction
        of the cost. The stored times are not offered: converting them is the slow part.

        ``owners`` keeps the cases of those therapists only, ``ids`` those cases. ``order`` (a
        field, and whether highest first) sorts as a stable sort of the id-ordered rows does:
        empty values last, equal ones in id order, text by code point; ``limit`` then keeps the
        first rows.
        """
        unknown = [name for name in fields if name not in CASELOAD_FIELDS or name in TIMES]
        if order is not None and (order[0] not in CASELOAD_FIELDS or order[0] in TIMES):
            unknown.append(order[0])
        if unknown:
            raise ValueError(f"the caseload has no column(s) {', '.join(unknown)} to read")
        query = caseload_query(include_archived, therapist, fields, with_figures=True)
        if owners is not None:
            query = query.where(cases.c.therapist.in_(sorted(owners)))
        if ids is not None:
            query = query.where(cases.c.id.in_(sorted(ids)))
        if order is not None:
            query = query.order_by(None).order_by(*_stable_order(order, self._connection.dialect))
        if limit is not None:
            query = query.limit(limit)
        # Expanded here: the IN lists of owners would otherwise wait for SQLAlchemy.
        compiled = query.compile(
            dialect=self._connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        parameters: Any = compiled.params
        if compiled.positional:
            parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
        result = self._connection.exec_driver_sql(compiled.string, parameters)
        # The driver's own rows: a row object each costs a fifth as much again.
        rows = result.cursor.fetchall()
        described = [column[1] for column in result.cursor.description]
        result.close()
        dialect = self._connection.dialect
        columns = zip(*rows, strict=True) if rows else ([] for _ in fields)
        kinds = zip(query.selected_columns, described, strict=True)
        return {
            name: _converted(values, column.type, dialect, described_as)
            for name, values, (column, described_as) in zip(fields, columns, kinds, strict=True)
        }

    def changed_since(self, moment: datetime) -> set[int]:
        """Ids of the cases (and attempts) changed, or whose figures were computed, at or after
        ``moment``: two range reads of the indexes of revision 0008. Deleted cases leave no
        trace here: compare counts for them."""
        case_ids = select(cases.c.id).where(cases.c.updated_at >= moment)
        figure_ids = select(case_metrics.c.case_id).where(case_metrics.c.computed_at >= moment)
        return {
            *self._connection.execute(case_ids).scalars(),
            *self._connection.execute(figure_ids).scalars(),
        }

    def caseload_options(
        self, include_archived: bool = False, owners: Collection[str] | None = None
    ) -> tuple[int, list[str], list[str]]:
        """How many cases with figures :meth:`caseload_columns` would read, and their distinct
        therapists and protocol ids, sorted: what a caseload's filters offer, without its rows.

        One grouped pass over the cases; joined with the figures only while some real case is
        waiting for them (an import's), since otherwise every real case has figures: 30 ms
        instead of 490 on 100,000 cases.
        """
        chosen = cases.c.kind == "case"
        if not include_archived:
            chosen &= cases.c.status == "active"
        if owners is not None:
            chosen &= cases.c.therapist.in_(sorted(owners))
        waiting = _real_cases(self._connection) - _real_figures(self._connection)
        source = cases.join(case_metrics) if waiting else cases
        groups = self._connection.execute(
            select(cases.c.therapist, cases.c.protocol_id, func.count())
            .select_from(source)
            .where(chosen)
            .group_by(cases.c.therapist, cases.c.protocol_id)
        ).all()
        therapists = sorted({therapist for therapist, _, _ in groups})
        protocols = sorted({protocol for _, protocol, _ in groups})
        return sum(counted for _, _, counted in groups), therapists, protocols

    def caseload_stamp(self) -> CaseloadStamp:
        """What moves whenever the caseload changes, in a few cheap statements: a cache key.

        Every change to a case moves its ``updated_at``, every new figure its ``computed_at``,
        and adding or deleting a case a count. It covers every case and attempt, so a change
        to any of them moves it; the database's URL tells two databases apart.
        """
        # One aggregate a statement: each is then an index's count or its last entry (the
        # indexes of revision 0008), instead of a pass over the table: 56 ms to 10 on 100,000.
        real = select(func.count()).select_from(cases).where(cases.c.kind == "case")
        taken = utc_now()
        counted = self._connection.execute(real).scalar_one()
        changed_at = self._connection.execute(select(func.max(cases.c.updated_at))).scalar_one()
        figures = self._connection.execute(
            select(func.count()).select_from(case_metrics)
        ).scalar_one()
        computed_at = self._connection.execute(
            select(func.max(case_metrics.c.computed_at))
        ).scalar_one()
        with_figures = figures - _attempt_figures(self._connection)
        database = self._connection.engine.url.render_as_string(hide_password=True)
        return CaseloadStamp(database, counted, with_figures, changed_at, computed_at, taken)

    def cases_with_open_flag(self, flag_id: str, include_archived: bool = False) -> list[int]:
        """Ids of the real cases whose stored figures hold this flag open."""
        check_id("flag_id", flag_id, ACTOR_LENGTH)
        query = (
            select(cases.c.id)
            .join(case_metrics)
            .where(
                cases.c.kind == "case",
                case_metrics.c.open_flag_ids.contains(f'"{flag_id}"', autoescape=True),
            )
        )
        if not include_archived:
            query = query.where(cases.c.status == "active")
        return list(self._connection.execute(query.order_by(cases.c.id)).scalars())

    def cases_without_metrics(self, limit: int) -> list[int]:
        """Ids of up to ``limit`` cases (not attempts) with no caseload figures, oldest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            select(cases.c.id)
            .select_from(cases.outerjoin(case_metrics))
            .where(cases.c.kind == "case", case_metrics.c.case_id.is_(None))
            .order_by(cases.c.id)
            .limit(limit)
        )
        # Counting is cheap (an index, one pass over the figures), the search is not (0.2 s on
        # 100,000 cases), and the app asks on every rerun: search only when a case is waiting.
        if _real_cases(self._connection) == _real_figures(self._connection):
            return []
        return list(self._connection.execute(query).scalars())
