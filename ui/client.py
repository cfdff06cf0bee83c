"""The address of the browser on the other end, which sign-in and patient codes are throttled by."""

from __future__ import annotations

import streamlit as st

from ui.common import app_settings


def client_address() -> str | None:
    """The client's address: from the proxy's header when one is configured, else as Streamlit
    sees it; None when not known (Streamlit gives none for a proxy on the same host)."""
    # Set by a deployment behind a reverse proxy (e.g. X-Forwarded-For): otherwise every client
    # would have the proxy's address, or none at all.
    header = app_settings().client_ip_header
    forwarded = st.context.headers.get(header) if header else None
    if isinstance(forwarded, str) and forwarded.strip():
        # The last address is the one the proxy added; earlier ones the client may have made up.
        return forwarded.split(",")[-1].strip()
    address = st.context.ip_address
    return address if isinstance(address, str) and address else None
