"""Tailoring: the entry point. Page frame, navigation and the shared sidebar."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from tailoring import services
from tailoring.content import ContentError
from ui.common import current_case_id, entry_ran, friendly_errors

HERE = Path(__file__).parent
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

entry_ran()
st.set_page_config(page_title="Tailoring", page_icon=":material/tune:", layout="wide")

try:
    lib = services.content()
except ContentError as exc:
    st.error(
        "The content library does not validate, so the app cannot start. Fix these and "
        "restart (or run `python -m tailoring validate-content`):"
    )
    st.code("\n".join(exc.problems), language=None)
    st.stop()

with friendly_errors():
    services.start()

pages = st.navigation(
    {
        "Casework": [
            st.Page(
                HERE / "pages/cases.py", title="Cases", icon=":material/folder_open:", default=True
            ),
            st.Page(
                HERE / "pages/walkthrough.py", title="Walk-through", icon=":material/checklist:"
            ),
            st.Page(HERE / "pages/sessions.py", title="Sessions", icon=":material/event_note:"),
            st.Page(HERE / "pages/timeline.py", title="Timeline", icon=":material/timeline:"),
        ],
        "Supervision": [
            st.Page(HERE / "pages/caseload.py", title="Caseload", icon=":material/groups:"),
            st.Page(HERE / "pages/review.py", title="Case review", icon=":material/rate_review:"),
        ],
        "Learning": [
            st.Page(HERE / "pages/practice.py", title="Practice", icon=":material/school:"),
            st.Page(
                HERE / "pages/library.py", title="Content library", icon=":material/menu_book:"
            ),
        ],
    }
)

with st.sidebar:
    case_id = current_case_id()
    if case_id is not None:
        with friendly_errors():
            stored = services.open_case(case_id)
            st.markdown(f"**Open case:** {stored.case.reference}")
            st.caption(
                f"{lib.protocol(stored.case.protocol_id).name} · "
                f"{stored.case.sessions_available} sessions available"
            )
    st.caption(
        f"Content {lib.version}. Supports clinical judgement; it does not assess risk "
        "or make a diagnosis."
    )

with friendly_errors():
    pages.run()
