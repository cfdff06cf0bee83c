"""The open case, shared by every page, and the guard that turns failures into plain messages."""

from __future__ import annotations

import logging
import runpy
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from tailoring import services, settings

log = logging.getLogger("tailoring.ui")
CASE_KEY = "case_id"
WALKTHROUGH = "pages/walkthrough.py"
REVIEW = "pages/review.py"
ENTRY = Path(__file__).resolve().parent.parent / "app.py"
ENTRY_MARK = "_entry_run"


def app_settings() -> settings.Settings:
    """The settings in force: the environment, and the keys of the secrets Streamlit found."""
    try:
        secrets = st.secrets.to_dict()
    except Exception:  # no secrets.toml, or one Streamlit cannot read: the environment decides
        secrets = {}
    return settings.current(secrets)


def entry_ran() -> None:
    """Called by app.py on every run, before it hands over to a page."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is not None:
        # ``cursors`` is a new dict at the start of every script run: a mark of this run.
        st.session_state[ENTRY_MARK] = ctx.cursors


def require_entry() -> None:
    """Run app.py first when Streamlit ran a page without it.

    Streamlit treats a ``pages/`` folder as an old-style multipage app whenever it has not yet
    seen this run's ``st.navigation`` (a link straight to a page after a restart; and every
    rerun under AppTest), and then runs the page alone: no navigation, no sidebar, no sign-in
    check, no start-up. Running the entry point here sets all of that up, and ``st.navigation``
    then runs the page the link asked for.
    """
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or st.session_state.get(ENTRY_MARK) is not ctx.cursors:
        runpy.run_path(str(ENTRY), run_name="__main__")
        st.stop()


def current_case_id() -> int | None:
    """The open case: kept in session state and in the address bar, so a refresh keeps it."""
    ss = st.session_state
    if CASE_KEY not in ss:
        from_url = st.query_params.get("case", "")
        ss[CASE_KEY] = int(from_url) if from_url.isdigit() else None
    if ss[CASE_KEY] is not None:
        st.query_params["case"] = str(ss[CASE_KEY])
    return ss[CASE_KEY]


def open_case(case_id: int, page: str = WALKTHROUGH) -> None:
    """Make a case the open one and go to ``page`` (its walk-through unless told otherwise)."""
    st.session_state[CASE_KEY] = case_id
    st.switch_page(page, query_params={"case": str(case_id)})


def close_case() -> None:
    st.session_state[CASE_KEY] = None
    st.query_params.pop("case", None)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show storage problems and unexpected failures as plain messages; details go to the log."""
    try:
        yield
    except services.StorageUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
    except services.SchemaOutdated as exc:
        # Says which command the database's owner must run: no patient text, no paths.
        st.error(str(exc), icon=":material/database:")
    except services.AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
    except services.NotSignedIn as exc:
        st.warning(str(exc), icon=":material/login:")
    except services.CaseNotFound as exc:
        close_case()
        st.warning(str(exc))
    except Exception:
        # The log gets the traceback; the page never shows file paths or patient text.
        log.error("page failed: %s", where_it_failed())
        st.error(
            "Something went wrong on this page. Your saved answers are safe. Reload the page; "
            "if it happens again, tell your administrator the time it happened."
        )


def require_case(
    title: str, back: tuple[str, str] = ("pages/cases.py", "Go to cases")
) -> services.StoredCase:
    """The open real case, or a plain message and a way back (and the page stops).

    ``back`` is the page to offer when no case is open: the case list, or the caseload for a
    page a supervisor uses. When the database cannot be reached the message says so: answers
    given but not saved stay kept in this session (ui/bound.py) until it comes back.
    """
    case_id = current_case_id()
    stored = None
    unreachable: services.StorageUnavailable | None = None
    if case_id is not None:
        with friendly_errors():
            try:
                stored = services.open_case(case_id)
            except services.StorageUnavailable as exc:
                unreachable = exc
    if unreachable is not None:
        st.title(title)
        st.error(
            f"{unreachable} Nothing you gave on this page is lost: answers not yet saved are "
            "kept here and shown as “not saved” once the case opens again.",
            icon=":material/cloud_off:",
        )
        st.button("Try again", key="case.reopen", icon=":material/refresh:")
        st.stop()
    if stored is None or stored.kind != "case":
        st.title(title)
        st.info(
            "Open or create a case first."
            if stored is None
            else "That is a practice attempt: open it from Practice."
        )
        page, label = back
        st.page_link(page, label=label, icon=":material/folder_open:")
        st.stop()
    return stored


def where_it_failed() -> str:
    """The exception's type and the code it passed through, without its message or values.

    Messages can quote what a user typed (a validation error quotes its input), and free text
    must never reach the logs: the type and the file, line and function of each frame are
    enough to find the fault.
    """
    kind, _, trace = sys.exc_info()
    frames = traceback.extract_tb(trace)
    path = " <- ".join(
        f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames[-8:])
    )
    return f"{kind.__name__ if kind else 'unknown'} at {path}"


def wrapped_table(rows: Sequence[Mapping[str, object]], key: str) -> None:
    """A short table of text whose long cells wrap onto more lines.

    ``st.dataframe`` cuts a cell at its column's width: at 1366 px the last columns of a table
    of sentences (a flag's reason, what an alternative would break) showed a few words each.
    Use it for tables of a few dozen rows at most; the caseload stays a dataframe.
    """
    with st.container(key=key):
        st.table(pd.DataFrame(rows), hide_index=True)
