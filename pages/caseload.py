"""Caseload: every real case at a glance for supervision, with filters and summary charts."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from tailoring import services
from tailoring.model.caseload import OUTCOME_WORDS
from ui import caseload
from ui.common import REVIEW, friendly_errors, open_case, require_entry

require_entry()

OPEN_LIST_LIMIT = 2000

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
    frame = caseload.ready(stamp, include_archived)
    preview = None
    if frame is None and caseload.no_filter_set():
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
    if preview is not None:
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
    if preview is None:
        st.markdown(f"**{len(shown):,} of {len(frame):,} cases**")
        by, descending = caseload.sort_choice()
    # The summary keeps the filtered rows' own order, so a new sort does not recompute it.
    order = caseload.sort_order(shown, by, descending)
    if preview is None:
        caseload.table(shown, order)
    if len(shown):
        pick, go = st.columns([3, 1])
        if len(shown) <= OPEN_LIST_LIMIT:
            ordered = caseload.in_order(shown, order)
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
            partial(caseload.csv, shown, order),
            file_name="caseload.csv",
            mime="text/csv",
            key="caseload.export",
        )

    overview = caseload.overview(shown, stamp, include_archived)
    caseload.summary(overview, shown)
    caseload.patient_feedback_themes(services.patient_feedback_themes(include_archived))
