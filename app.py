"""Tailoring: the entry point. Page frame, navigation and the shared sidebar."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from tailoring import services
from tailoring.content import ContentError
from tailoring.settings import SettingsError
from ui.account import (
    DESTINATION,
    account_box,
    configure_mode,
    idle_watch,
    login_screen,
    signed_in_actor,
    write_cookie,
)
from ui.bound import script_run
from ui.common import app_settings, current_case_id, entry_ran, friendly_errors
from ui.patient_questionnaires_answer import patient_visit
from ui.style import app_style

HERE = Path(__file__).parent
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def main() -> None:
    # A patient's visit (a questionnaire link, QR code or typed code) runs the patient page alone:
    # no login, no navigation, no sidebar, nothing else of the case. Keep this before all else.
    if patient_visit():
        st.set_page_config(page_title="Your questions", page_icon=":material/edit_note:")
        # The same page at the root (a link's address) and at /patient (to type a code): a default
        # page answers only at the root.
        questionnaire = HERE / "pages/patient_questionnaires_answer.py"
        st.navigation(
            [
                st.Page(questionnaire, title="Your questions", url_path="questions", default=True),
                st.Page(questionnaire, title="Your questions", url_path="patient"),
            ],
            position="hidden",
        ).run()
        st.stop()
    st.set_page_config(page_title="Tailoring", page_icon=":material/tune:", layout="wide")
    app_style()

    try:
        app_settings()
    except SettingsError as exc:
        st.error(f"{exc}. Fix them and restart (the README's Configuration lists each one).")
        st.stop()

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
        try:
            services.start()
        except services.SchemaOutdated as exc:
            # The app never migrates, and no page works on this schema: say what to run, once.
            st.error(str(exc), icon=":material/database:")
            st.stop()

    team = configure_mode()
    actor = signed_in_actor()
    if team and actor is None:
        write_cookie()
        # Team mode, nobody signed in: the sign-in form is all there is, at the root and at the
        # address of every page (a bookmark or a link to a case), with no menu.
        sign_in_pages = [
            st.Page(login_screen, title="Sign in", icon=":material/login:", default=True),
            *(
                st.Page(login_screen, title="Sign in", url_path=path.stem)
                for path in sorted((HERE / "pages").glob("*.py"))
                if path.stem != "patient_questionnaires_answer"
            ),
        ]
        st.navigation(sign_in_pages, position="hidden").run()
        st.stop()

    roles = {"therapist", "supervisor", "trainee", "admin"} if actor is None else set(actor.roles)
    # Each section's pages (file, title, icon), kept to what the roles may use; tailoring/ refuses
    # the rest whatever the menu shows.
    wanted = {
        "Casework": [
            ("cases", "Cases", "folder_open"),
            ("walkthrough", "Walk-through", "checklist"),
            ("sessions", "Sessions", "event_note"),
            ("timeline", "Timeline", "timeline"),
            ("patient_questionnaires", "Patient questionnaires", "forum"),
        ]
        if "therapist" in roles
        else [],
        "Supervision": [
            ("caseload", "Caseload", "groups"),
            *(
                [("import_caseload", "Import caseload", "upload_file")]
                if "therapist" in roles
                else []
            ),
            ("review", "Case review", "rate_review"),
        ]
        if roles & {"therapist", "supervisor"}
        else [],
        "Learning": [
            *([("practice", "Practice", "school")] if roles & {"trainee", "supervisor"} else []),
            ("library", "Content library", "menu_book"),
        ],
        "Administration": [("audit", "Audit log", "policy")]
        if roles & {"admin", "supervisor"}
        else [],
    }
    available = {name for entries in wanted.values() for name, _, _ in entries}
    # Each role starts on its own work: cases, the caseload, practice, the audit log.
    first = next(n for n in ("cases", "caseload", "practice", "audit", "library") if n in available)
    groups = {
        section: [
            st.Page(
                HERE / f"pages/{name}.py",
                title=title,
                icon=f":material/{icon}:",
                default=name == first,
            )
            for name, title, icon in entries
        ]
        for section, entries in wanted.items()
        if entries
    }
    pages = st.navigation(groups)
    destination = st.session_state.pop(DESTINATION, None)
    if destination is not None and destination[0] in available:
        # Signed in at a page's address (a bookmark, a link to a case): go on to that page.
        st.switch_page(HERE / f"pages/{destination[0]}.py", query_params=destination[1])
    write_cookie()

    with st.sidebar:
        account_box(actor)
        if team:
            idle_watch()
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


entry_ran()
with script_run():
    main()
