"""Import caseload: check every row of a CSV or JSON file, then store its cases in one go."""

from __future__ import annotations

import streamlit as st

from ui import import_caseload as importing
from ui.common import friendly_errors, require_entry

require_entry()

st.title("Import caseload")
st.caption(
    "Bring many cases, with their sessions and measures, into the app at once. Every row is "
    "checked first; nothing is stored until the file is clean, or until you choose to import "
    "only the cases without problems."
)

with friendly_errors():
    importing.format_help()
    upload = st.file_uploader(
        "Caseload file (CSV or JSON)",
        type=["csv", "json"],
        max_upload_size=importing.MAX_MB,
        key="import.file",
    )
    just_imported = False
    if upload is not None:
        data = upload.getvalue()
        key = importing.file_key(upload.name, data)
        done = st.session_state.get(importing.IMPORTED)
        if done is None or done["key"] != key:
            report = importing.checked(upload.name, data)
            importing.show_report(report)
            just_imported = importing.import_button(report, key)
            done = st.session_state.get(importing.IMPORTED)
        if done is not None and done["key"] == key:
            importing.show_imported(done)
    importing.figures(start=just_imported)
