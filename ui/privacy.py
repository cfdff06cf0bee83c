"""Free text that seems to hold identifiers: held unsaved until the user decides what to do.

A service refuses such text with ``services.IdentifiersFound``. The page keeps the text where it
was typed, says what kind of identifier it seems to hold (never the text itself), shows it with
them removed, and offers: remove them and save, save as written (the detector was wrong), or
keep editing. ``hold`` records the decision to come; ``offer`` shows it next to its field.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from tailoring import services

PENDING = "privacy.pending"
# Called with the redacted fields to save them, or with None to save the text as written.
Retry = Callable[[dict[str, str] | None], None]


def hold(key: str, found: services.IdentifiersFound, retry: Retry) -> None:
    st.session_state.setdefault(PENDING, {})[key] = (str(found), found.redacted(), retry)


def pending(key: str) -> bool:
    return key in st.session_state.get(PENDING, {})


def offer(key: str) -> None:
    """The warning and the three choices for the text held under ``key``, if any."""
    held = st.session_state.get(PENDING, {}).get(key)
    if held is None:
        return
    message, redacted, _ = held
    with st.container(border=True, key=f"{key}.privacy"):
        st.warning(f"Not saved yet. {message}", icon=":material/privacy_tip:")
        st.caption("With them removed it would read:")
        for text in redacted.values():
            if text:
                st.text(text)
        remove, keep, edit = st.columns(3)
        remove.button(
            "Remove them and save",
            key=f"{key}.privacy.redact",
            type="primary",
            on_click=_decide,
            args=(key, "redact"),
        )
        keep.button(
            "Save as written", key=f"{key}.privacy.keep", on_click=_decide, args=(key, "keep")
        )
        edit.button("Keep editing", key=f"{key}.privacy.edit", on_click=_decide, args=(key, "edit"))


def _decide(key: str, choice: str) -> None:
    _, redacted, retry = st.session_state[PENDING].pop(key)
    if choice == "redact":
        retry(redacted)
    elif choice == "keep":
        retry(None)
