"""Walk-through: preferences → social context → alliance check → fit report, saved as you go."""

from __future__ import annotations

from datetime import date

import streamlit as st

from tailoring import services
from tailoring.model.case import WALK_STEPS
from ui import checklist, report
from ui.common import current_case_id, friendly_errors, require_entry

require_entry()

STEP_TITLES = {
    "preferences": "Preferences",
    "social": "Social context",
    "alliance": "Alliance check",
    "report": "Fit report",
}
STEP_HINTS = {
    "preferences": "What the patient wants from therapy, and how much each point matters to them.",
    "social": "Circumstances that may keep the difficulties going or get in the way of a protocol.",
    "alliance": "How the working relationship looks from the patient's side (from their feedback).",
}

lib = services.content()
case_id = current_case_id()
if case_id is None:
    st.title("Walk-through")
    st.info("Open or create a case first.")
    st.page_link("pages/cases.py", label="Go to cases", icon=":material/folder_open:")
    st.stop()

with friendly_errors():
    stored = services.open_case(case_id)
    case = stored.case
    protocol = lib.protocol(case.protocol_id)
    save = checklist.case_saver(case_id)
    checklist.load_answers(f"case:{case_id}", case.answers, stored.revisions)

    st.title(f"Walk-through · {case.reference}")
    with st.expander(f"Plan: {protocol.name}, {case.sessions_available} sessions available"):
        protocols = {p.id: p for p in lib.protocols}
        new_protocol = st.selectbox(
            "Current protocol",
            list(protocols),
            index=list(protocols).index(case.protocol_id),
            format_func=lambda p: protocols[p].name,
            key="case.protocol",
        )
        new_sessions = st.number_input(
            "Sessions available", 1, 60, case.sessions_available, key="case.sessions"
        )
        if st.button("Save plan", key="case.save_plan"):
            try:
                services.update_case(
                    case_id,
                    stored.version,
                    protocol_id=new_protocol,
                    sessions_available=int(new_sessions),
                )
            except services.StaleCase as exc:
                st.warning(f"{exc} Reload the page to see the latest plan.")
            else:
                st.rerun()

    def _go(step: str) -> None:
        services.set_step(case_id, step)
        st.session_state["walk.step"] = step

    def _picked() -> None:
        if st.session_state["walk.step"] is not None:
            services.set_step(case_id, st.session_state["walk.step"])

    # The step lives in the database, so a refresh or another device resumes where it was.
    if st.session_state.get("_walk_case") != case_id or st.session_state.get("walk.step") is None:
        st.session_state["walk.step"] = case.step
        st.session_state["_walk_case"] = case_id
    fit = services.assess_case(case)
    counts = fit.completeness.by_section
    st.segmented_control(
        "Step",
        list(WALK_STEPS),
        format_func=lambda s: (
            f"{WALK_STEPS.index(s) + 1}. {STEP_TITLES[s]}"
            + (f" ({counts[s][0]}/{counts[s][1]})" if s in counts else "")
        ),
        key="walk.step",
        on_change=_picked,
        label_visibility="collapsed",
    )
    st.progress(
        fit.completeness.percent / 100, text=f"{fit.completeness.percent}% of questions answered"
    )
    step = st.session_state["walk.step"]
    checklist.show_notices(save)

    if step == "report":
        report.full_report(fit)
        pdf_col, json_col, case_col = st.columns(3)
        pdf_col.download_button(
            "Session plan (PDF)",
            # Built only when clicked: drawing the PDF on every rerun would dominate the page.
            lambda: services.report_pdf(fit, date.today()),
            file_name=f"session-plan-{case.reference}.pdf",
            mime="application/pdf",
            key="report.pdf",
            type="primary",
            width="stretch",
        )
        json_col.download_button(
            "Whole report (JSON)",
            services.report_as_json(fit),
            file_name=f"fit-report-{case.reference}.json",
            mime="application/json",
            key="report.json",
            width="stretch",
        )
        case_col.download_button(
            "Case file (JSON)",
            services.case_file(case),
            file_name=f"case-{case.reference}.json",
            mime="application/json",
            key="report.case_file",
            width="stretch",
        )
    else:
        st.caption(STEP_HINTS[step] + " Every answer is saved as soon as you give it.")
        checklist.section_widgets(lib, step, save)

    index = WALK_STEPS.index(step)
    back, _, forward = st.columns([1, 3, 1])
    if index > 0:
        back.button(
            f"← {STEP_TITLES[WALK_STEPS[index - 1]]}",
            key="walk.back",
            width="stretch",
            on_click=_go,
            args=(WALK_STEPS[index - 1],),
        )
    if index < len(WALK_STEPS) - 1:
        forward.button(
            f"{STEP_TITLES[WALK_STEPS[index + 1]]} →",
            key="walk.next",
            type="primary",
            width="stretch",
            on_click=_go,
            args=(WALK_STEPS[index + 1],),
        )
