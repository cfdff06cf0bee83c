"""Caseload: every real case at a glance for supervision, with filters and summary charts."""

from __future__ import annotations

import streamlit as st

from tailoring import services
from tailoring.engine.caseload import filter_caseload
from tailoring.model.caseload import OUTCOME_WORDS
from ui import caseload
from ui.common import friendly_errors, open_case, require_entry

require_entry()

st.title("Caseload")
st.caption(
    "Figures are recomputed whenever a case changes. Small numbers are shown as counts, "
    "never as rates."
)

with friendly_errors():
    frame = services.caseload_frame(
        include_archived=st.toggle("Include archived cases", key="caseload.archived")
    )
    if frame.empty:
        st.info("No cases yet.")
        st.stop()

    search, therapist_col, outcome_col, severity_col = st.columns([2, 2, 2, 2])
    text = search.text_input("Search by reference", key="caseload.search")
    therapists = sorted(frame["therapist"].unique())
    chosen = therapist_col.multiselect("Therapist", therapists, key="caseload.therapists")
    outcomes = outcome_col.multiselect(
        "Outcome",
        list(OUTCOME_WORDS),
        key="caseload.outcomes",
        format_func=OUTCOME_WORDS.__getitem__,
    )
    high_only = severity_col.toggle("High flags only", key="caseload.high")
    shown = filter_caseload(frame, text, chosen, outcomes, high_only)

    st.markdown(f"**{len(shown)} of {len(frame)} cases**")
    caseload.table(shown)
    by_reference = dict(zip(shown["reference"], shown["id"], strict=True))
    if by_reference:
        pick, go = st.columns([3, 1])
        reference = pick.selectbox("Case to open", list(by_reference), key="caseload.open_pick")
        if go.button("Open case", key="caseload.open", width="stretch"):
            open_case(int(by_reference[reference]))
        st.download_button(
            "Caseload (CSV)",
            caseload.csv(shown),
            file_name="caseload.csv",
            mime="text/csv",
            key="caseload.export",
        )

    overview = services.caseload_overview(shown)
    caseload.summary(overview)
