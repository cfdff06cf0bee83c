"""Timeline: outcome measures, alliance and attendance over sessions, with outcome status."""

from __future__ import annotations

from datetime import date

import streamlit as st

from tailoring import services
from ui import report, timeline
from ui.common import friendly_errors, require_case, require_entry
from ui.sessions import measures_for

require_entry()

lib = services.content()
stored = require_case("Timeline")
case_id = stored.id

with friendly_errors():
    case = stored.case
    fit, used = services.fit_with_source(case_id)
    st.title(f"Timeline · {case.reference}")
    report.source_note(used)
    st.download_button(
        "Case summary (PDF)",
        # Built only when clicked: drawing the PDF on every rerun would slow the page down.
        lambda: services.case_summary_pdf(case_id, date.today()),
        file_name=f"case-summary-{case.reference}.pdf",
        mime="application/pdf",
        key="timeline.summary_pdf",
        help="Fit, flags, outcomes and the measures over sessions on paper, with no patient "
        "identifiers.",
    )
    if not case.sessions:
        st.info("No sessions recorded yet.")
        st.page_link("pages/sessions.py", label="Record a session", icon=":material/event:")
        st.stop()

    session_flags = [f for f in fit.flags if f.id.startswith("session.")]
    risk = [f for f in session_flags if f.id == "session.risk_item"]
    for flag in risk:
        st.error(f"{flag.title}. {flag.explanation}", icon=":material/emergency:")

    st.subheader("Outcome status")
    if fit.outcomes is not None:
        timeline.outcome_badges(fit.outcomes)

    st.subheader("Measures")
    for measure in measures_for(lib, case.anxiety_measure):
        if not any(score.measure_id == measure.id for s in fit.sessions for score in s.scores):
            # An empty chart (with axes from -1 to 6) says less than a sentence.
            st.caption(f"{measure.short_name}: not recorded at any session yet.")
            continue
        band = tuple(services.expected_band(case, measure.id))
        st.plotly_chart(
            timeline.measure_chart(measure, fit.sessions, band),
            width="stretch",
            key=f"timeline.{measure.id}",
        )
        if band and lib.expected_change is not None:
            st.caption(
                f"{measure.short_name}: the shaded band runs from the score expected at each "
                "treatment appointment for patients who started where this one did to the "
                f"not-on-track boundary ({lib.expected_change.percentile:g}th percentile; "
                f"{lib.expected_change.source})."
            )
    st.plotly_chart(timeline.alliance_chart(fit.sessions), width="stretch", key="timeline.alliance")
    st.plotly_chart(
        timeline.attendance_chart(fit.sessions), width="stretch", key="timeline.attendance"
    )

    st.subheader("Fit since the start")
    points = services.fit_over_sessions(stored, fit.overall_fit)
    recorded = [f for _, f in points if f is not None]
    if fit.contraindicated:
        # No fit now, and none of the figures before says the protocol may be offered.
        report.contraindication(fit)
    if recorded:
        st.plotly_chart(timeline.fit_chart(points), width="stretch", key="timeline.fit")
    elif not fit.contraindicated:
        st.caption("No fit to show yet: answer the preferences in the walk-through to see it.")
    if len(recorded) >= 2:
        st.caption(
            f"Fit went from {recorded[0]:.0f} at the first recorded session to "
            f"{recorded[-1]:.0f} now. Update the walk-through's answers to re-run it."
        )

    st.subheader("Session flags")
    if not session_flags:
        st.success("No session flags.")
    for flag in session_flags:
        report.flag_card(flag)
