"""The open case, shared by every page, and the guard that turns failures into plain messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from tailoring import services

log = logging.getLogger("tailoring.ui")
CASE_KEY = "case_id"
WALKTHROUGH = "pages/walkthrough.py"


def current_case_id() -> int | None:
    """The open case: kept in session state and in the address bar, so a refresh keeps it."""
    ss = st.session_state
    if CASE_KEY not in ss:
        from_url = st.query_params.get("case", "")
        ss[CASE_KEY] = int(from_url) if from_url.isdigit() else None
    if ss[CASE_KEY] is not None:
        st.query_params["case"] = str(ss[CASE_KEY])
    return ss[CASE_KEY]


def open_case(case_id: int) -> None:
    """Make a case the open one and go to its walk-through."""
    st.session_state[CASE_KEY] = case_id
    st.switch_page(WALKTHROUGH, query_params={"case": str(case_id)})


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
    except services.CaseNotFound as exc:
        close_case()
        st.warning(str(exc))
    except Exception:
        # The log gets the traceback; the page never shows file paths or patient text.
        log.exception("page failed")
        st.error(
            "Something went wrong on this page. Your saved answers are safe. Reload the page; "
            "if it happens again, tell your administrator the time it happened."
        )
