"""Case review for supervision: flags and decisions, supervision notes, fit report, timeline."""

from __future__ import annotations

from datetime import date

import streamlit as st

from tailoring import services
from ui import patient_questionnaires, report, review, timeline
from ui.common import friendly_errors, require_case, require_entry
from ui.sessions import measures_for

require_entry()

lib = services.content()
stored = require_case("Case review", ("pages/caseload.py", "Choose a case on the caseload"))
case_id = stored.id

with friendly_errors():
    case = stored.case
    # The fit on the answers the therapist chose for it, as their report and the caseload show.
    fit, used = services.fit_with_source(case_id)
    st.title(f"Case review · {case.reference}")
    attended = sum(1 for s in case.sessions if s.attendance == "attended")
    last = max((s.date for s in case.sessions), default=None)
    st.caption(
        f"{case.therapist or 'No therapist recorded'} · {lib.protocol(case.protocol_id).name} · "
        f"{attended} of {case.sessions_available} sessions attended"
        + (f" · last session {last:%d %b %Y}" if last else "")
    )
    review.show_notice()
    patient_questionnaires.link_risk_notice(services.case_link_risks(case_id))

    back, pdf, csv = st.columns([2, 1, 1])
    back.page_link("pages/caseload.py", label="Back to the caseload", icon=":material/groups:")
    pdf.download_button(
        "Case review (PDF)",
        # Built only when clicked, like every PDF of the app.
        lambda: services.review_pdf(case_id, date.today()),
        file_name=f"case-review-{case.reference}.pdf",
        mime="application/pdf",
        key="review.pdf",
        type="primary",
        width="stretch",
    )
    csv.download_button(
        "Notes (CSV)",
        lambda: services.notes_export(case_id),
        file_name=f"supervision-notes-{case.reference}.csv",
        mime="text/csv",
        key="review.notes_csv",
        width="stretch",
    )

    report.headline(fit)
    report.source_note(used, "The therapist chooses this on the Patient questionnaires page.")
    flags_tab, notes_tab, report_tab, timeline_tab = st.tabs(
        ["Flags", "Supervision notes", "Fit report", "Timeline"]
    )
    reviewer = services.may("case.review", case_id)
    with flags_tab:
        st.caption(
            "Acknowledge a flag when it has been discussed and a plan agreed; resolve it when "
            "it no longer needs attention. The history keeps who decided what, when and why."
        )
        review.flags(case_id, reviewer)
        st.markdown("**Flag history**")
        review.flag_history_table(case_id)
    with notes_tab:
        if reviewer:
            review.new_note_form(case_id)
        else:
            st.caption(
                "Supervision notes are written by the case's supervisor; you can read them here."
            )
        review.notes(case_id, reviewer)
    with report_tab:
        report.full_report(fit, with_headline=False)
    with timeline_tab:
        if not case.sessions:
            st.info("No sessions recorded yet.")
        else:
            if fit.outcomes is not None:
                timeline.outcome_badges(fit.outcomes)
            for measure in measures_for(lib, case.anxiety_measure):
                if any(score.measure_id == measure.id for s in fit.sessions for score in s.scores):
                    st.plotly_chart(
                        timeline.measure_chart(measure, fit.sessions),
                        width="stretch",
                        key=f"review.timeline.{measure.id}",
                    )
            st.plotly_chart(
                timeline.alliance_chart(fit.sessions), width="stretch", key="review.alliance"
            )
