"""Patient questionnaires: send a link, see what came back beside your own answers, and code the
patient's own words into the study's themes."""

from __future__ import annotations

import streamlit as st

from tailoring import services
from ui import patient_questionnaires
from ui.common import current_case_id, friendly_errors, require_entry

require_entry()

with friendly_errors():
    case_id = current_case_id()
    stored = services.open_case(case_id) if case_id is not None else None
    if stored is None or stored.kind != "case":
        st.title("Patient questionnaires")
        st.info("Open a case to send its patient a questionnaire.")
        st.page_link("pages/cases.py", label="Go to cases", icon=":material/folder_open:")
        patient_questionnaires.tracking(None)
        st.stop()

    case = stored.case
    st.title(f"Patient questionnaires · {case.reference}")
    st.caption(
        "The patient answers on their own phone or computer, with no account, in plain words. "
        "What they say sits beside your answers; where the two differ, a perception gap is "
        "raised to discuss with them."
    )
    patient_questionnaires.links_notice()
    measures = services.patient_measures(stored.id)
    patient_questionnaires.risk_notice(measures)
    links_tab, answers_tab, fit_tab, codes_tab, all_tab = st.tabs(
        ["Links", "Side by side", "Fit by source", "Their own words", "All your cases"]
    )
    with links_tab:
        patient_questionnaires.new_link_form(stored.id)
        patient_questionnaires.made_link(stored.id)
        links = patient_questionnaires.links_list(stored.id)
    with answers_tab:
        patient_questionnaires.side_by_side(services.patient_side_by_side(stored.id))
        patient_questionnaires.measures_section(measures)
    with fit_tab:
        patient_questionnaires.source_choice(stored.id)
    with codes_tab:
        patient_questionnaires.coded_texts(stored.id)
    with all_tab:
        patient_questionnaires.tracking(case.therapist if case.therapist else None)
    # The answers are on this page now: what came back counts as seen from the next visit on.
    for link in links:
        if link.returned_unseen():
            services.mark_link_seen(link.id)
