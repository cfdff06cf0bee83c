"""The caseload: its table, charts' figures and exports, read from the stored figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from tailoring import access
from tailoring.engine.caseload import caseload_summary
from tailoring.engine.flags import RISK_FLAG
from tailoring.export.caseload import caseload_csv
from tailoring.imports.caseload import collector_paused
from tailoring.model.caseload import CaseloadSummary
from tailoring.services.patient_questionnaires import link_risks
from tailoring.services.shared import content, current_actor, current_user, unit_of_work
from tailoring.storage.caseload import CaseloadStamp, open_flags

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


def caseload_stamp() -> CaseloadStamp:
    """A cheap key that moves whenever the caseload does, and how many cases wait for figures."""
    with unit_of_work() as uow:
        return uow.caseload.caseload_stamp()


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
    with collector_paused(), unit_of_work() as uow:
        columns = uow.caseload.caseload_columns(TABLE_FIELDS, include_archived, therapist)
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
    with unit_of_work() as uow:
        with collector_paused():
            columns = uow.caseload.caseload_columns(
                TABLE_FIELDS,
                include_archived,
                owners=owners,
                order=(field, descending),
                limit=limit,
            )
        total, therapists, protocol_ids = uow.caseload.caseload_options(include_archived, owners)
    names = _protocol_names()
    protocols = {p: names.get(p, p) for p in sorted(protocol_ids, key=lambda p: names.get(p, p))}
    return CaseloadPreview(_table_frame(columns), total, therapists, protocols)


def caseload_figures(include_archived: bool = False, therapist: str | None = None) -> pd.DataFrame:
    """The rest of the engine's caseload frame for the same cases, by id: what the charts add.

    ``open_flags`` lists each case's open flags; cases with the same flags share one list (the
    stored text is parsed once), so the lists are for reading only.
    """
    with collector_paused():
        with unit_of_work() as uow:
            columns = uow.caseload.caseload_columns(FIGURE_FIELDS, include_archived, therapist)
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
    with unit_of_work() as uow:
        changed = uow.caseload.changed_since(since.taken_at - CHANGE_MARGIN)
        if len(changed) > max(MAX_UPDATED_ROWS, len(frame) // 20):
            return None
        fields, make = (FIGURE_FIELDS, _figures_frame) if figures else (TABLE_FIELDS, _table_frame)
        kept = frame[~frame["id"].isin(sorted(changed))]
        updated = kept
        if changed:
            columns = uow.caseload.caseload_columns(fields, include_archived, ids=changed)
            if columns["id"]:
                fresh = make(columns)[list(frame.columns)]
                updated = pd.concat([kept, fresh], ignore_index=True)
                updated = updated.sort_values("id", kind="stable")
        expected, _, _ = uow.caseload.caseload_options(include_archived)
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
    with unit_of_work() as uow:
        uow.record(current_user(), "exported", detail=f"caseload CSV ({len(rows)} cases)")
    return caseload_csv(rows)


def caseload_overview(frame: pd.DataFrame) -> CaseloadSummary:
    """Every figure of the caseload charts, overall and per therapist."""
    titles: dict[str, str] = {t.id: t.title for t in content().themes}
    return caseload_summary(frame, titles, content().waits)


def item9_cases(include_archived: bool = False) -> dict[int, str]:
    """Cases with the risk item above 0, by link or at a recorded session, in words per case."""
    words: dict[int, list[str]] = {}
    with unit_of_work() as uow:
        at_sessions = uow.caseload.cases_with_open_flag(RISK_FLAG, include_archived)
        risks = link_risks()
    for case_id in at_sessions:
        words.setdefault(case_id, []).append("at a session")
    for risk in risks:
        state = "finished" if risk.completed else "partly answered"
        said = f"by link ({state})"
        if said not in words.setdefault(risk.case_id, []):
            words[risk.case_id].append(said)
    return {case_id: ", ".join(said) for case_id, said in words.items()}
