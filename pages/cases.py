"""Cases: create, import, list, open, duplicate, archive and delete."""

from __future__ import annotations

import streamlit as st

from tailoring import services
from tailoring.limits import FILE_MB
from ui import bound
from ui.common import close_case, current_case_id, friendly_errors, open_case, require_entry

require_entry()

lib = services.content()
protocols = {p.id: p for p in lib.protocols}

st.title("Cases")

with (
    st.expander("New case", expanded=not services.list_cases(include_archived=True)),
    st.form("case.new", clear_on_submit=False, border=False),
):
    st.caption(
        "Use your service's pseudonymous case code. **No names, initials, dates of "
        "birth or NHS numbers.**"
    )
    reference = st.text_input(
        "Case reference", key="case.new.reference", max_chars=32, placeholder="e.g. TT-0423"
    )
    protocol_id = st.selectbox(
        "Current protocol (the plan as it stands)",
        list(protocols),
        key="case.new.protocol",
        format_func=lambda p: f"{protocols[p].name} ({protocols[p].step.replace('_', ' ')})",
    )
    sessions = st.number_input(
        "Sessions available", min_value=1, max_value=60, value=6, key="case.new.sessions"
    )
    if st.form_submit_button("Create and start the walk-through", type="primary"):
        try:
            new_id = services.new_case(reference, protocol_id, int(sessions))
        except (services.CaseFileError, services.ReferenceTaken) as exc:
            st.error(str(exc).removeprefix("reference: "))
        else:
            open_case(new_id)

with st.expander("Import a case file or FHIR bundle"):
    st.caption(
        "A case file (JSON) saved from this app, or a FHIR bundle (JSON) exported from the "
        f"walk-through's report, up to {FILE_MB} MB. The case is checked against this content "
        "before it is stored."
    )
    upload = st.file_uploader(
        "Case file or FHIR bundle",
        type=["json"],
        max_upload_size=FILE_MB,
        key="cases.import.file",
    )
    if st.button("Import", key="cases.import", disabled=upload is None) and upload is not None:
        try:
            imported_id = services.import_case(upload.getvalue().decode("utf-8"))
        except UnicodeDecodeError:
            st.error("That file is not UTF-8 text: choose a JSON file.")
        except (services.CaseFileError, services.FhirError) as exc:
            kind = "FHIR bundle" if isinstance(exc, services.FhirError) else "case file"
            st.error(
                f"This {kind} cannot be imported:\n"
                + "\n".join(f"- {problem}" for problem in exc.problems[:20])
                + (f"\n- …and {len(exc.problems) - 20} more" if len(exc.problems) > 20 else "")
            )
        except services.ReferenceTaken as exc:
            st.error(f"{exc} Archive or rename the stored case first.")
        else:
            open_case(imported_id)

show_archived = st.toggle("Show archived cases", key="cases.show_archived")
with friendly_errors():
    cases = services.list_cases(include_archived=show_archived)
    if not cases:
        st.info("No cases yet. Create one above.")
        st.stop()
    rows = [
        {
            "Reference": c.reference,
            "Protocol": protocols[c.protocol_id].name
            if c.protocol_id in protocols
            else c.protocol_id,
            "Available": c.sessions_available,
            "Step": c.step.capitalize(),
            "Answers": c.answered,
            "Sessions": c.sessions,
            "Last session": c.last_session.strftime("%d %b %Y") if c.last_session else "—",
            "Status": c.status.capitalize(),
            "Updated": c.updated_at.strftime("%d %b %Y %H:%M"),
        }
        for c in cases
    ]
    st.dataframe(rows, hide_index=True, width="stretch", key="cases.table")
    by_ref = {c.reference: c for c in cases}
    chosen = by_ref[
        st.selectbox(
            "Case to act on",
            list(by_ref),
            index=bound.kept_index("cases.selected", list(by_ref)),
            key="cases.selected",
        )
    ]

    open_col, dup_col, archive_col, delete_col = st.columns(4)
    if open_col.button("Open", key="cases.open", type="primary", width="stretch"):
        open_case(chosen.id)
    with dup_col.popover("Duplicate", width="stretch"):
        copy_ref = st.text_input("Reference for the copy", key="cases.copy_reference")
        if st.button("Make a copy", key="cases.duplicate"):
            try:
                services.duplicate_case(chosen.id, copy_ref)
            except (services.CaseFileError, services.ReferenceTaken) as exc:
                st.error(str(exc).removeprefix("reference: "))
            else:
                st.toast(f"Copied {chosen.reference} to {copy_ref}.")
                st.rerun()
    archived = chosen.status == "archived"
    if archive_col.button(
        "Restore" if archived else "Archive", key="cases.archive", width="stretch"
    ):
        services.archive_case(chosen.id, archived=not archived)
        st.toast(f"{chosen.reference} {'restored' if archived else 'archived'}.")
        st.rerun()

    if delete_col.button("Delete…", key="cases.delete", width="stretch"):
        st.session_state["cases.pending_delete"] = chosen.id
    if st.session_state.get("cases.pending_delete") == chosen.id:
        with st.container(border=True):
            st.warning(
                f"Delete case **{chosen.reference}** and all its answers for good? "
                "Archive it instead if you may need it again."
            )
            yes, no = st.columns(2)
            if yes.button("Delete for good", key="cases.delete.confirm", type="primary"):
                services.delete_case(chosen.id)
                del st.session_state["cases.pending_delete"]
                if current_case_id() == chosen.id:
                    close_case()
                st.toast(f"{chosen.reference} deleted.")
                st.rerun()
            if no.button("Keep it", key="cases.delete.cancel"):
                del st.session_state["cases.pending_delete"]
                st.rerun()
