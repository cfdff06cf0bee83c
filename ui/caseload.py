"""The caseload table and its summary charts, and the caseload kept between reruns."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from tailoring import services
from tailoring.model.caseload import OUTCOME_WORDS, CaseloadSummary, Rate
from ui.common import REVIEW, open_case

TREND_WORDS = {"up": "↑ up", "down": "↓ down", "steady": "→ steady", "none": "—"}
IMPORT_PAGE = "pages/import_caseload.py"
# Past this many cases the case to open is typed, not picked from a list.
OPEN_LIST_LIMIT = 2000


# The caseload, read again only when it changes ---------------------------------------------------
#
# Reading 100,000 cases takes most of a second; a rerun (a filter, a click) must not. The frames
# are kept once per server for every session, keyed by the caseload's stamp and by every
# argument of the services that read them: anything that narrows a caseload (e.g. to one
# person's supervisees) must be an argument here too. When the stamp moves, the frame kept is
# updated with the rows of the cases changed since. They are shared: never change them.


def waiting_notice(stamp: services.CaseloadStamp) -> None:
    """Say how many cases are left out while their figures are computed, and where to finish."""
    waiting = stamp.without_figures
    if waiting:
        st.info(
            f"Figures for {waiting:,} imported case{'s' if waiting > 1 else ''} are still "
            "being computed; until then they are not in the table or the charts.",
            icon=":material/hourglass_top:",
        )
        st.page_link(IMPORT_PAGE, label="Compute them now", icon=":material/calculate:")


def frame(stamp: services.CaseloadStamp, include_archived: bool) -> pd.DataFrame:
    """The caseload's table (``services.caseload_table``) as of ``stamp``."""
    return _read(_tables("table"), stamp, include_archived, figures=False)


def ready(stamp: services.CaseloadStamp, include_archived: bool) -> pd.DataFrame | None:
    """The caseload's table as of ``stamp`` without reading it whole, or None: kept, or the one
    kept before updated with the cases changed since."""
    return _kept(_tables("table"), stamp, include_archived, figures=False)


def _kept(
    store: _Frames, stamp: services.CaseloadStamp, include_archived: bool, figures: bool
) -> pd.DataFrame | None:
    key = (stamp, include_archived)
    found = store.get(key)
    before = store.latest(include_archived) if found is None else None
    if before is not None:
        since, previous = before
        found = services.caseload_update(previous, since, stamp, include_archived, figures)
        if found is not None:
            store.put(key, found)
    return found


def _read(
    store: _Frames, stamp: services.CaseloadStamp, include_archived: bool, figures: bool
) -> pd.DataFrame:
    """The frame as of ``stamp``: kept, else the one kept before updated with the cases changed
    since (``services.caseload_update``), else read whole."""
    found = _kept(store, stamp, include_archived, figures)
    if found is None:
        read = services.caseload_figures if figures else services.caseload_table
        found = read(include_archived)
        store.put((stamp, include_archived), found)
    return found


class _Frames:
    """Caseload frames by (stamp, include_archived), the newest two, shared by the sessions of
    a server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: OrderedDict[tuple[services.CaseloadStamp, bool], pd.DataFrame] = OrderedDict()

    def get(self, key: tuple[services.CaseloadStamp, bool]) -> pd.DataFrame | None:
        with self._lock:
            return self._frames.get(key)

    def latest(self, include_archived: bool) -> tuple[services.CaseloadStamp, pd.DataFrame] | None:
        """The newest frame kept with ``include_archived`` as given, and its stamp."""
        with self._lock:
            for (stamp, archived), kept in reversed(self._frames.items()):
                if archived == include_archived:
                    return stamp, kept
        return None

    def put(self, key: tuple[services.CaseloadStamp, bool], kept: pd.DataFrame) -> None:
        with self._lock:
            self._frames[key] = kept
            while len(self._frames) > 2:
                self._frames.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _tables(kind: str) -> _Frames:
    """The store of one kind of frame: "table" or "figures"."""
    return _Frames()


def overview(
    shown: pd.DataFrame, stamp: services.CaseloadStamp, include_archived: bool
) -> CaseloadSummary:
    """Every figure of the charts for the cases ``shown`` (rows of ``frame``) as of ``stamp``."""
    ids = shown["id"].to_numpy(dtype=np.int64).tobytes()
    # Streamlit's cache hashes every field of the stamp: the key is the stamp without the moment
    # it was read, so that the same caseload read twice is one key.
    key = dataclasses.replace(stamp, taken_at=None)
    return _overview(key, include_archived, ids, stamp, shown)


@st.cache_resource(max_entries=16, show_spinner=False)
def _overview(
    key: services.CaseloadStamp,
    include_archived: bool,
    ids: bytes,
    _stamp: services.CaseloadStamp,
    _shown: pd.DataFrame,
) -> CaseloadSummary:
    # The rows shown are known by their ids: the same ids in the same stamp are the same rows.
    figures = _read(_tables("figures"), _stamp, include_archived, figures=True)
    return services.caseload_overview(services.with_figures(_shown, figures))


# Drawing -----------------------------------------------------------------------------------------


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table's columns, in words."""
    return pd.DataFrame(
        {
            "Therapist": frame["therapist"],
            "Reference": frame["reference"],
            "Protocol": frame["protocol_name"],
            "Sessions": frame["sessions_attended"],
            "Fit": frame["fit"].round(0),
            "High": frame["flags_high"],
            "Medium": frame["flags_medium"],
            "Low": frame["flags_low"],
            # .get, not the dict: pandas makes a dict an index first, 5x slower on 100,000 rows.
            "Alliance trend": frame["alliance_trend"].map(TREND_WORDS.get),
            "Outcome": frame["outcome"].map(OUTCOME_WORDS.get),
            "Last session": frame["last_session_date"],
            "PHQ-9 item 9": frame.get("item9", ""),
        }
    )


def with_item9(frame: pd.DataFrame, item9: dict[int, str], only: bool) -> pd.DataFrame:
    """The rows with an "item9" column saying where PHQ-9 item 9 was answered above 0; only
    those rows when ``only``."""
    words = pd.Series([item9.get(i, "") for i in frame["id"]], index=frame.index, dtype=object)
    marked = frame.assign(item9=words)
    if only:
        return marked[marked["item9"] != ""].reset_index(drop=True)
    return marked


def item9_notice(frame: pd.DataFrame) -> None:
    """Cases with PHQ-9 item 9 above 0, named above the table, each pointing to the procedure."""
    flagged = frame[frame["item9"] != ""]
    if not len(flagged):
        return
    pairs = zip(flagged["reference"], flagged["item9"], strict=True)
    names = ", ".join(f"{reference} ({where})" for reference, where in pairs)
    st.error(
        f"PHQ-9 item 9 above 0 in {len(flagged)} case{'s' if len(flagged) > 1 else ''}: {names}. "
        "Follow your local risk procedure for each; this app does not assess risk.",
        icon=":material/emergency:",
    )


TABLE_WIDTHS = {
    "Therapist": 78,
    "Reference": 80,
    "Protocol": 96,
    "Sessions": 62,
    "High": 42,
    "Medium": 58,
    "Low": 38,
    "Alliance trend": 84,
    "Outcome": 94,
    "Last session": 80,
    "PHQ-9 item 9": 76,  # "session 2", "by link": the notice above the table gives the detail
}
# Rows sent to the browser at most: more is slow to draw and nobody reads them; the sort below
# picks which come first, and the CSV export has them all.
TABLE_ROWS = 5000
SORTS = {
    "flags_high": "High flags",
    "fit": "Fit",
    "last_session_date": "Last session",
    "sessions_attended": "Sessions",
    "reference": "Reference",
    "therapist": "Therapist",
    "outcome": "Outcome",
}


# The filters' widgets, and the value of each that filters nothing.
FILTER_KEYS = (
    "caseload.search",
    "caseload.therapists",
    "caseload.outcomes",
    "caseload.high",
    "caseload.item9",
    "caseload.protocols",
    "caseload.trends",
)


def no_filter_set() -> bool:
    """No filter of the page narrows the caseload (as on a first visit)."""
    ss = st.session_state
    return not any(ss.get(key) for key in FILTER_KEYS) and ss.get("caseload.fit_below") is None


def _highest_first(by: str) -> bool:
    return by in ("flags_high", "last_session_date")


def sort_choice() -> tuple[str, bool]:
    """The column to sort by and whether highest first (most high flags first by default)."""
    by_col, order_col = st.columns([3, 1])
    by = by_col.selectbox(
        "Sort by", list(SORTS), format_func=SORTS.__getitem__, key="caseload.sort"
    )
    descending = order_col.toggle(
        "Highest first", value=_highest_first(by), key=f"caseload.desc.{by}"
    )
    return by, descending


def chosen_sort() -> tuple[str, bool]:
    """What ``sort_choice`` will return, before its widgets are drawn."""
    ss = st.session_state
    by = ss.get("caseload.sort", next(iter(SORTS)))
    return by, bool(ss.get(f"caseload.desc.{by}", _highest_first(by)))


def sort_order(frame: pd.DataFrame, by: str, descending: bool) -> np.ndarray:
    """The rows' positions in the order chosen.

    Positions, not a sorted copy: the table takes its first few thousand, and the CSV all of
    them only when downloaded (sorting every column of 100,000 cases took 40 ms a rerun).
    """
    column = frame[by].reset_index(drop=True)
    ordered = column.sort_values(ascending=not descending, na_position="last", kind="stable")
    return ordered.index.to_numpy()


def in_order(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    return frame.take(order).reset_index(drop=True)


def table(frame: pd.DataFrame, order: np.ndarray, total: int | None = None) -> None:
    """The first TABLE_ROWS rows of ``frame`` in ``order`` (positions from ``sort_order``), of
    ``total`` cases (``frame``'s when None: a preview's rows are only the first).

    A click on a row opens that case in review (the picker under the table is the keyboard's way).
    """
    total = len(frame) if total is None else total
    if total > TABLE_ROWS:
        st.caption(
            f"Showing the first {TABLE_ROWS:,} of {total:,} in this order: filter, sort, "
            "or download the CSV for all of them."
        )
    rows = in_order(frame, order[:TABLE_ROWS])
    state = st.dataframe(
        display(rows),
        hide_index=True,
        width="stretch",
        key="caseload.table",
        on_select="rerun",
        selection_mode="single-row",
        # Widths that show every column at 1366 px without scrolling sideways (the main column
        # is about 900 px there); a long protocol name is cut, and the row opens in full.
        column_config={
            "Fit": st.column_config.ProgressColumn(
                min_value=0, max_value=100, format="%.0f", width=80
            ),
            **{name: st.column_config.Column(width=width) for name, width in TABLE_WIDTHS.items()},
        },
    )
    picked = state.selection.rows
    if picked:
        open_case(int(rows["id"].iloc[picked[0]]), REVIEW)


def open_controls(shown: pd.DataFrame, order: np.ndarray) -> None:
    """Open a case in review by its reference, and download the rows shown as CSV."""
    pick, go = st.columns([3, 1])
    if len(shown) <= OPEN_LIST_LIMIT:
        ordered = in_order(shown, order)
        by_reference = dict(zip(ordered["reference"], ordered["id"], strict=True))
        reference = pick.selectbox("Case to open", list(by_reference), key="caseload.open_pick")
    else:
        # A list of tens of thousands of references helps nobody and slows every rerun.
        reference = pick.text_input(
            "Case to open (type its reference, or filter the table first)",
            key="caseload.open_reference",
        ).strip()
        by_reference = None  # looked up only when asked
    if go.button("Review case", key="caseload.open", width="stretch"):
        if by_reference is None:
            by_reference = dict(zip(shown["reference"], shown["id"], strict=True))
        if reference in by_reference:
            open_case(int(by_reference[reference]), REVIEW)
        else:
            st.warning("No case with that reference among those shown.")
    st.download_button(
        "Caseload (CSV)",
        partial(csv, shown, order),
        file_name="caseload.csv",
        mime="text/csv",
        key="caseload.export",
    )


def csv(frame: pd.DataFrame, order: np.ndarray) -> str:
    """The caseload file, built and audited when the button is clicked (pass it uncalled)."""
    records = display(in_order(frame, order)).to_dict("records")
    # The column labels are the table's words; pandas types a label as any hashable.
    return services.caseload_export([{str(k): v for k, v in row.items()} for row in records])


def _rate_text(rate: Rate) -> str:
    return rate.text() + (" (small number)" if rate.small else "")


def waits(overview: CaseloadSummary) -> None:
    """Each waiting-time standard (content/waits.yaml), met by how many, against its target."""
    if not overview.waits:
        return
    st.markdown("**Waits** (the NHS standards, as the service's content states them)")
    st.dataframe(
        [
            {
                "Standard": w.standard.label,
                "Met": _rate_text(w.met),
                "Target": f"{w.standard.target:.0%}",
                "Median wait (days)": None if w.median_days is None else round(w.median_days),
                "Meets the target": {True: "Yes", False: "No", None: "—"}[w.meets_target],
            }
            for w in overview.waits
        ],
        hide_index=True,
        width="stretch",
        key="caseload.waits",
    )


def summary(overview: CaseloadSummary, frame: pd.DataFrame) -> None:
    """Fit distribution, flags by theme, outcome rates and the funnel."""
    left, right = st.columns(2)
    fit = go.Figure(
        go.Bar(
            x=[b.label for b in overview.fit.bins],
            y=[b.count for b in overview.fit.bins],
            marker_color="#1f4e8c",
        )
    )
    fit.update_layout(
        # Whole cases: no tick at 0.5 when every bar is short.
        yaxis={"dtick": 1} if max((b.count for b in overview.fit.bins), default=0) <= 5 else {},
        title=f"Fit ({overview.fit.unscored} without one: too few answers, or contraindicated)",
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    left.plotly_chart(fit, width="stretch", key="caseload.fit")
    themes = go.Figure(
        go.Bar(
            x=[t.title for t in overview.flags_by_theme],
            y=[t.flags for t in overview.flags_by_theme],
            marker_color="#c0392b",
        )
    )
    themes.update_layout(
        title="Open flags by theme", height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    right.plotly_chart(themes, width="stretch", key="caseload.themes")
    rates = overview.rates
    st.markdown("**Outcomes** (each over the denominator NHS Talking Therapies uses)")
    st.dataframe(
        [
            {
                "Figure": "Reliable improvement (of finished courses)",
                "Value": _rate_text(rates.reliable_improvement),
            },
            {
                "Figure": "Recovery (of finished courses at caseness)",
                "Value": _rate_text(rates.recovery),
            },
            {
                "Figure": "Reliable deterioration (of finished courses)",
                "Value": _rate_text(rates.deterioration),
            },
            {
                "Figure": "Drop-out after the first session (of those who started)",
                "Value": _rate_text(rates.dropout_after_first),
            },
        ],
        hide_index=True,
        width="stretch",
        key="caseload.rates",
    )
    st.markdown(
        "**Funnel**: " + " → ".join(f"{stage.label} {stage.count}" for stage in overview.funnel)
    )
    waits(overview)
    st.markdown("**By therapist**")
    if len(overview.therapists) > 1:
        therapist_charts(overview, frame)
    st.dataframe(
        [
            {
                "Therapist": t.therapist,
                "Cases": f"{t.cases}" + (" (small number)" if t.small else ""),
                "Median fit": None if t.fit.median is None else round(t.fit.median),
                "High flags": t.flags_by_severity.get("high", 0),
                "Reliable improvement": _rate_text(t.rates.reliable_improvement),
                "Recovery": _rate_text(t.rates.recovery),
                "Drop-out after first": _rate_text(t.rates.dropout_after_first),
            }
            for t in overview.therapists
        ],
        hide_index=True,
        width="stretch",
        key="caseload.therapists_table",
    )


# Cases up to which the box plot of fit by therapist shows every case as a dot.
BOX_POINTS = 2000
RATE_FIGURES = {
    "reliable_improvement": "Reliable improvement",
    "recovery": "Recovery",
    "deterioration": "Reliable deterioration",
    "dropout_after_first": "Drop-out after first",
}


def therapist_charts(overview: CaseloadSummary, frame: pd.DataFrame) -> None:
    """The caseload's figures again, therapist by therapist, on one axis each to compare."""
    names = {
        t.therapist: t.therapist + (" (small number)" if t.small else "")
        for t in overview.therapists
    }
    order = list(names)
    left, right = st.columns(2)
    style = {
        "orientation": "h",
        "line": {"color": "#1f4e8c"},
        "fillcolor": "rgba(31, 78, 140, 0.15)",
    }
    if len(frame) <= BOX_POINTS:
        # Every case as a dot while they can be told apart.
        box = go.Box(
            x=frame["fit"],
            y=frame["therapist"].map(names),
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            marker={"size": 4, "color": "#1f4e8c"},
            **style,
        )
    else:
        # Beyond that the boxes alone, from the summary's figures: sending every fit to the
        # browser took a third of a second a rerun on 100,000 cases (plotly copies them twice).
        scored = [t for t in overview.therapists if t.fit.median is not None]
        box = go.Box(
            y=[names[t.therapist] for t in scored],
            q1=[t.fit.q1 for t in scored],
            median=[t.fit.median for t in scored],
            q3=[t.fit.q3 for t in scored],
            lowerfence=[t.fit.lower_fence for t in scored],
            upperfence=[t.fit.upper_fence for t in scored],
            **style,
        )
    fit = go.Figure(box)
    fit.update_layout(
        title="Fit, by therapist",
        height=max(260, 40 + 32 * len(order)),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"range": [0, 100], "title": "Fit"},
        yaxis={"categoryorder": "array", "categoryarray": [names[n] for n in reversed(order)]},
        showlegend=False,
    )
    left.plotly_chart(fit, width="stretch", key="caseload.therapist_fit")
    titles = [theme.title for theme in overview.flags_by_theme]
    counts = [
        [{th.title: th.flags for th in t.flags_by_theme}.get(title, 0) for title in titles]
        for t in overview.therapists
    ]
    themes = go.Figure(
        go.Heatmap(
            z=counts,
            x=titles,
            y=[names[n] for n in order],
            text=counts,
            texttemplate="%{text}",
            colorscale="Reds",
            showscale=False,
            hovertemplate="%{y}<br>%{x}: %{z} open flags<extra></extra>",
        )
    )
    themes.update_layout(
        title="Open flags by theme, by therapist",
        height=max(260, 80 + 32 * len(order)),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"autorange": "reversed"},
    )
    right.plotly_chart(themes, width="stretch", key="caseload.therapist_themes")
    st.plotly_chart(rates_chart(overview), width="stretch", key="caseload.therapist_rates")
    st.caption(
        "Rates over fewer than 10 cases are small numbers: the cell shows the count "
        "(e.g. 2 of 5) and is left grey rather than coloured as a rate."
    )


def rates_chart(overview: CaseloadSummary) -> go.Figure:
    """Outcome rates per therapist as a grid; a small number shows its count, uncoloured."""
    grid = [[getattr(t.rates, name) for name in RATE_FIGURES] for t in overview.therapists]
    figure = go.Figure(
        go.Heatmap(
            z=[
                [None if r.small or r.value is None else r.value * 100 for r in row] for row in grid
            ],
            x=list(RATE_FIGURES.values()),
            y=[t.therapist for t in overview.therapists],
            text=[[_cell_text(r) for r in row] for row in grid],
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            showscale=False,
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Outcome rates, by therapist",
        height=max(260, 80 + 32 * len(grid)),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"autorange": "reversed"},
        plot_bgcolor="#f0f0f0",
    )
    return figure


def _cell_text(rate: Rate) -> str:
    if rate.denominator == 0:
        return "none yet"
    if rate.small or rate.value is None:
        return f"{rate.numerator} of {rate.denominator} (small)"
    return f"{rate.value * 100:.0f}%"


def patient_feedback_themes(themes: services.FeedbackThemes) -> None:
    """The study's themes in what patients wrote in their own words, overall and per therapist."""
    st.subheader("Themes of patient feedback")
    st.caption(
        "What patients wrote in their own words on questionnaires sent by link, coded into the "
        "study's themes. 'Accepted' counts the themes a clinician accepted; 'suggested' those "
        "the coder suggests that nobody has decided on yet. Rejected suggestions are not "
        "counted as themes. Each answer counts once per theme."
    )
    if not themes.texts:
        st.info("No patient has answered in their own words yet.")
        return
    st.markdown(f"**{themes.texts} answers in patients' own words**")

    def rows(tallies: list[services.ThemeTally], **extra: str) -> list[dict[str, object]]:
        return [
            {
                **extra,
                "Theme": t.title,
                "Accepted": t.accepted,
                "Suggested, not decided": t.undecided,
                "Rejected": t.rejected,
            }
            for t in tallies
        ]

    st.dataframe(rows(themes.overall), hide_index=True, width="stretch", key="caseload.feedback")
    st.markdown("**By therapist**")
    st.dataframe(
        [
            row
            for therapist, tallies in themes.by_therapist.items()
            for row in rows(tallies, Therapist=therapist)
        ],
        hide_index=True,
        width="stretch",
        key="caseload.feedback_by_therapist",
    )
