"""Plain text to paste into the clinical record: shown with a copy button, and as a download."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def copy_as_text(
    label: str, key: str, text: Callable[[], str], download: Callable[[], str], file_name: str
) -> None:
    """A closed expander that, opened, shows ``text()`` with a copy button and a download.

    The text is built only when the expander is open, and ``download`` (which logs the export)
    only when the file is downloaded: showing a text on screen is not an export.
    """
    box = st.expander(label, icon=":material/content_copy:", key=key, on_change="rerun")
    if not box.open:
        return
    with box:
        st.caption("Copy with the button at the top right of the text, or download it.")
        # st.code draws its own copy-to-clipboard button; wrapped, so nothing is cut off.
        st.code(text(), language=None, wrap_lines=True)
        st.download_button(
            "Download (.txt)",
            download,
            file_name=file_name,
            mime="text/plain",
            key=f"{key}.download",
            icon=":material/download:",
        )
