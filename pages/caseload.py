"""Caseload: every real case at a glance for supervision, with filters and summary charts."""

from __future__ import annotations

import numpy as np
import streamlit as st

from tailoring import services
from tailoring.model.caseload import OUTCOME_WORDS
from ui import caseload
from ui.common import friendly_errors, require_entry

require_entry()

VIEWS = ("Cases", "Charts", "Patient feedback")

st.title("Caseload")
st.caption(
    "Figures are recomputed whenever a case changes. Small numbers are shown as counts, "
    "never as rates."
)

with friendly_errors():
    include_archived = st.toggle("Include archived cases", key="caseload.archived")
    stamp = services.caseload_stamp()
    caseload.waiting_notice(stamp)
    # One frame per server for everyone, narrowed here to what this person may see. Before this
    # server has read it, a first visit (no filter set) draws the table's first rows from a
    # preview, then reads the whole caseload for everything else.
    preview = None
    if caseload.ready(stamp, include_archived) is None and caseload.no_filter_set():
        by, descending = caseload.chosen_sort()
        preview = services.caseload_preview(include_archived, by, descending, caseload.TABLE_ROWS)
        therapists, names, total = preview.therapists, preview.protocols, preview.total
    else:
        frame = services.visible_caseload(caseload.frame(stamp, include_archived))
        therapists = sorted(set(frame["therapist"].unique()))
        protocol_names = frame[["protocol_id", "protocol_name"]].drop_duplicates("protocol_id")
        names = dict(protocol_names.itertuples(index=False))
        total = len(frame)
    if not total:
        st.info("No cases with figures yet." if stamp.without_figures else "No cases yet.")
        st.stop()

    search, therapist_col, outcome_col, severity_col = st.columns([2, 2, 2.6, 1.8])
    text = search.text_input("Search by reference", key="caseload.search")
    chosen = therapist_col.multiselect("Therapist", therapists, key="caseload.therapists")
    outcomes = outcome_col.multiselect(
        "Outcome",
        list(OUTCOME_WORDS),
        key="caseload.outcomes",
        format_func=OUTCOME_WORDS.__getitem__,
    )
    high_only = severity_col.toggle("High flags only", key="caseload.high")
    item9 = services.item9_cases(include_archived)
    item9_only = severity_col.toggle(
        "Item 9 above 0",
        key="caseload.item9",
        help="PHQ-9 item 9 answered above 0 at a session or by link, even in a questionnaire left "
        "unfinished. Follow your local risk procedure; this app does not assess risk.",
    )
    protocol_col, trend_col, fit_col = st.columns([3, 3, 2])
    protocols = protocol_col.multiselect(
        "Protocol",
        sorted(names, key=names.__getitem__),
        key="caseload.protocols",
        format_func=names.__getitem__,
    )
    trends = trend_col.multiselect(
        "Alliance trend",
        list(caseload.TREND_WORDS),
        key="caseload.trends",
        format_func=caseload.TREND_WORDS.__getitem__,
    )
    fit_below = fit_col.number_input(
        "Fit below",
        min_value=0,
        max_value=101,
        value=None,
        step=5,
        key="caseload.fit_below",
        placeholder="any fit",
    )
    # Only the open tab runs and is drawn: the charts (five Plotly figures) took most of the
    # browser's time to show the page, before a supervisor could read the table's first row.
    cases_tab, charts_tab, feedback_tab = st.tabs(
        list(VIEWS), key="caseload.view", on_change="rerun"
    )
    if preview is not None:
        if cases_tab.open:
            with cases_tab:
                st.markdown(f"**{total:,} of {total:,} cases**")
                by, descending = caseload.sort_choice()
                rows = caseload.with_item9(preview.rows, item9, only=False)
                caseload.table(rows, np.arange(len(rows)), total)
        frame = services.visible_caseload(caseload.frame(stamp, include_archived))
    shown = services.filter_caseload(
        frame,
        text,
        chosen,
        outcomes,
        high_only,
        protocols=protocols,
        trends=trends,
        fit_below=fit_below,
    )

    shown = caseload.with_item9(shown, item9, item9_only)
    caseload.item9_notice(shown)
    if cases_tab.open:
        with cases_tab:
            if preview is None:
                st.markdown(f"**{len(shown):,} of {len(frame):,} cases**")
                by, descending = caseload.sort_choice()
            # The summary keeps the filtered rows' own order, so a new sort does not recompute it.
            order = caseload.sort_order(shown, by, descending)
            if preview is None:
                caseload.table(shown, order)
            if len(shown):
                caseload.open_controls(shown, order)
    if charts_tab.open:
        with charts_tab:
            st.markdown(f"**{len(shown):,} of {len(frame):,} cases**")
            caseload.summary(caseload.overview(shown, stamp, include_archived), shown)
    if feedback_tab.open:
        with feedback_tab:
            caseload.patient_feedback_themes(services.patient_feedback_themes(include_archived))
