"""Sessions: record attendance, the alliance check and the measures of each session."""

from __future__ import annotations

import datetime
from functools import partial

import streamlit as st

from tailoring import services
from tailoring.model.text import NOTE_CHARS
from ui import bound, privacy, record_text
from ui import sessions as entry
from ui.common import friendly_errors, require_case, require_entry

require_entry()

lib = services.content()
stored = require_case("Sessions")
case_id = stored.id

with friendly_errors():
    case = stored.case
    measures = entry.measures_for(lib, case.anxiety_measure)
    st.title(f"Sessions · {case.reference}")

    numbers = [s.number for s in case.sessions]
    next_number = max(numbers, default=0) + 1
    if "_sessions_goto" in st.session_state:
        st.session_state["sessions.pick"] = st.session_state.pop("_sessions_goto")
    options = [*reversed(numbers), None]
    choice = st.selectbox(
        "Session",
        options,
        index=bound.kept_index("sessions.pick", options),
        format_func=lambda n: f"New session ({next_number})" if n is None else f"Session {n}",
        key="sessions.pick",
    )

    if choice is None:
        entry.show_notice(case_id)
        with st.form("sessions.new", border=True):
            st.caption(
                "Add the session, then fill in the alliance check and measures: every "
                "answer is saved as you give it."
            )
            left, middle, right = st.columns([1, 2, 2])
            day = left.date_input(
                "Date",
                entry.session_date_default(case.sessions),
                format="DD/MM/YYYY",
                key="sessions.new.date",
            )
            attendance = middle.selectbox(
                "Attendance",
                list(entry.ATTENDANCE_WORDS),
                format_func=entry.ATTENDANCE_WORDS.__getitem__,
                key="sessions.new.attendance",
            )
            kind = right.selectbox(
                "Kind of contact",
                list(entry.KIND_WORDS),
                index=list(entry.KIND_WORDS).index("treatment"),
                format_func=entry.KIND_WORDS.__getitem__,
                key="sessions.new.kind",
            )
            if st.form_submit_button(f"Add session {next_number}", type="primary"):
                try:
                    services.record_session(
                        case_id,
                        {
                            "number": next_number,
                            "date": day,
                            "attendance": attendance,
                            "kind": kind,
                        },
                        0,
                    )
                except services.CaseFileError as exc:
                    st.error("; ".join(exc.problems))
                else:
                    st.session_state["_sessions_goto"] = next_number
                    st.rerun()
        st.stop()

    session = next(s for s in case.sessions if s.number == choice)
    entry.load_session(f"{case_id}:{choice}", session, stored.session_revisions.get(choice, 0))
    entry.show_notice(case_id)
    entry.header_fields(case_id)
    entry.patient_answers(case_id, choice, measures)
    tabs = st.tabs(["Alliance check", *(m.short_name for m in measures), "Note"])
    with tabs[0]:
        st.caption(
            "The patient's view of the working relationship at this session: under two minutes."
        )
        entry.alliance_fields(lib, case_id)
    for tab, measure in zip(tabs[1:-1], measures, strict=True):
        with tab:
            entry.measure_fields(case_id, measure)
    with tabs[-1]:
        note_key, note = entry.show(entry.NOTE_KEY)
        st.text_area(
            "Session note (no names or identifiers)",
            value=note or "",
            key=note_key,
            max_chars=NOTE_CHARS,
            on_change=entry.changed,
            args=(entry.NOTE_KEY, case_id),
        )
        privacy.offer(entry.NOTE_KEY)

    history = [c for c in services.session_history(case_id) if c.number == choice]
    with st.expander(f"Change history ({len(history)})"):
        if not history:
            st.caption("No corrections to this session.")
        for change in reversed(history):
            st.text(
                f"{change.at:%d %b %Y %H:%M} · {change.actor}: "
                + ("removed the session" if change.new is None else "changed it")
            )
            st.json({"before": change.old, "after": change.new}, expanded=False)

    record_text.copy_as_text(
        f"Session {choice} summary as text, for the clinical record",
        "sessions.text",
        partial(services.session_text, case_id, choice),
        partial(services.session_text_download, case_id, choice),
        f"session-{choice}-{case.reference}-{datetime.date.today():%Y-%m-%d}.txt",
    )

    if st.button("Remove this session…", key="sessions.remove"):
        st.session_state["sessions.pending_remove"] = choice
    if st.session_state.get("sessions.pending_remove") == choice:
        st.warning(f"Remove session {choice}? The removal is kept in the change history.")
        if st.button("Remove", key="sessions.remove.confirm", type="primary"):
            services.remove_session(case_id, choice)
            del st.session_state["sessions.pending_remove"]
            st.session_state["_sessions_goto"] = None
            st.rerun()
