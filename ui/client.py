"""The address of the browser on the other end, which sign-in and patient codes are throttled by."""

from __future__ import annotations

import os

import streamlit as st

# Set by a deployment behind a reverse proxy to the header it puts the client's address in (e.g.
# X-Forwarded-For): otherwise every client would have the proxy's address, or none at all.
CLIENT_IP_HEADER = "TAILORING_CLIENT_IP_HEADER"


def client_address() -> str | None:
    """The client's address: from the proxy's header when one is configured, else as Streamlit
    sees it; None when not known (Streamlit gives none for a proxy on the same host)."""
    header = os.environ.get(CLIENT_IP_HEADER)
    forwarded = st.context.headers.get(header) if header else None
    if isinstance(forwarded, str) and forwarded.strip():
        # The last address is the one the proxy added; earlier ones the client may have made up.
        return forwarded.split(",")[-1].strip()
    address = st.context.ip_address
    return address if isinstance(address, str) and address else None
