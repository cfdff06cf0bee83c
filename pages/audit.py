"""Audit log: who viewed, created, changed, exported or deleted which case, and who signed in.

Read-only: nothing here (or anywhere in the app) can change or remove an entry. Administrators
read the whole log; a supervisor reads the entries about the cases they may read.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from tailoring import services
from ui.common import friendly_errors, require_entry

require_entry()

st.title("Audit log")
st.caption(
    "Every view, creation, change, export and deletion of a case, and every sign-in, with who "
    "and when. Entries cannot be edited or removed."
)

with friendly_errors():
    who, what, case = st.columns(3)
    actor = who.text_input("Person (username)", key="audit.actor").strip().lower()
    action = what.selectbox(
        "Action",
        [None, *services.AUDIT_ACTIONS],
        key="audit.action",
        format_func=lambda a: a or "any",
    )
    reference = case.text_input("Case reference", key="audit.reference").strip()
    today = datetime.now(UTC).date()
    first, last = st.columns(2)
    since = first.date_input("From", today - timedelta(days=30), key="audit.since")
    until = last.date_input("To (inclusive)", today, key="audit.until")
    entries = services.audit_entries(
        actor=actor or None,
        action=action,
        reference=reference or None,
        since=datetime.combine(since, time(), UTC),
        until=datetime.combine(until + timedelta(days=1), time(), UTC),
        limit=None,
    )
    st.markdown(f"**{len(entries)} entries**")
    if not entries:
        st.info("No entries match these filters.")
        st.stop()
    st.dataframe(
        [
            {
                "When": e.at.astimezone().strftime("%d %b %Y %H:%M:%S"),
                "Who": e.actor,
                "Action": e.action,
                "Case": e.case_reference or "",
                "Detail": e.detail,
            }
            for e in entries[:5000]
        ],
        hide_index=True,
        width="stretch",
        key="audit.table",
    )
    if len(entries) > 5000:
        st.caption("The first 5,000 are shown; the export has them all.")
    st.download_button(
        "Export (CSV)",
        lambda: services.audit_csv(entries),
        file_name=f"audit-log-{today.isoformat()}.csv",
        mime="text/csv",
        key="audit.export",
    )
