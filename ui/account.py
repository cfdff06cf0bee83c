"""Who is signed in: team mode's login, idle time-out and account box; local mode has none.

Team mode is set by ``TAILORING_MODE=team`` or by ``mode = "team"`` under ``[tailoring]`` in
``.streamlit/secrets.toml``. The signed-in actor lives in the session; services reads it through
the source registered here, in callbacks as in the page run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from tailoring import services
from tailoring.auth import IDLE_MINUTES, Actor, LoginRefused, idle_expired
from ui.common import friendly_errors

ACTOR_KEY = "actor"
LAST_SEEN = "actor.last_seen"
SIGNED_OUT = "actor.signed_out"
ROLE_WORDS = {
    "therapist": "therapist",
    "supervisor": "supervisor",
    "trainee": "trainee",
    "admin": "administrator",
}


def _session_actor() -> Actor | None:
    if get_script_run_ctx(suppress_warning=True) is None:
        return None  # not inside a script run (a test calling services directly)
    actor = st.session_state.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


def _secret_mode() -> str | None:
    try:
        section = st.secrets.get("tailoring", {})
    except Exception:  # no secrets.toml: the environment decides
        return None
    return section.get("mode") if hasattr(section, "get") else None


def configure_mode() -> bool:
    """Set local or team mode from secrets or the environment; True in team mode."""
    services.set_mode(_secret_mode() or os.environ.get("TAILORING_MODE", "local"))
    services.use_actor_source(_session_actor)
    return services.team_mode()


def idle_minutes() -> int:
    return int(os.environ.get("TAILORING_IDLE_MINUTES", IDLE_MINUTES))


def signed_in_actor() -> Actor | None:
    """The signed-in actor, after signing out one idle for too long (team mode only)."""
    actor = _session_actor()
    if actor is None:
        return None
    now = datetime.now(UTC)
    last = st.session_state.get(LAST_SEEN, now)
    if idle_expired(last, now, idle_minutes()):
        sign_out(
            f"You were signed out after {idle_minutes()} minutes without activity. Sign in "
            "again: everything you saved is kept."
        )
        return None
    st.session_state[LAST_SEEN] = now
    return actor


def sign_in(actor: Actor) -> None:
    st.session_state[ACTOR_KEY] = actor
    st.session_state[LAST_SEEN] = datetime.now(UTC)
    st.session_state.pop(SIGNED_OUT, None)


def sign_out(message: str = "You are signed out.") -> None:
    for key in list(st.session_state):
        if key not in (SIGNED_OUT,):
            del st.session_state[key]
    st.session_state[SIGNED_OUT] = message


def account_box(actor: Actor | None) -> None:
    """Who is signed in and a sign-out button; nothing in local mode."""
    if actor is None or actor.local:
        return
    roles = ", ".join(ROLE_WORDS[r] for r in sorted(actor.roles))
    st.markdown(f"**{actor.display_name or actor.username}**")
    st.caption(f"Signed in as {actor.username} · {roles}")
    if st.button("Sign out", key="account.sign_out", icon=":material/logout:"):
        sign_out()
        if provider_configured() and st.user.is_logged_in:
            st.logout()  # ends the provider's session too, and reruns
        st.rerun()


def provider_configured() -> bool:
    """An OpenID Connect provider is set up under ``[auth]`` in secrets.toml."""
    try:
        return "auth" in st.secrets
    except Exception:
        return False


def provider_username() -> str | None:
    """The account name of someone the provider signed in: preferred_username, else the part of
    their email before the @ (an administrator creates the account under that name)."""
    if not (provider_configured() and st.user.is_logged_in):
        return None
    name = st.user.get("preferred_username") or str(st.user.get("email") or "").split("@")[0]
    return str(name).lower() or None


def login_screen() -> None:
    """The sign-in form (team mode, nobody signed in): the only thing the app shows then."""
    st.title("Sign in to Tailoring")
    message = st.session_state.get(SIGNED_OUT)
    if message:
        st.info(message, icon=":material/logout:")

    with friendly_errors():
        external = provider_username()
        if external is not None:
            try:
                sign_in(services.signed_in_elsewhere(external))
            except LoginRefused as exc:
                st.error(
                    f"{exc} Your organisation signed you in, but this app has no account for you."
                )
            else:
                st.rerun()
        if provider_configured():
            st.button(
                "Sign in with your organisation's account",
                key="login.provider",
                type="primary",
                icon=":material/badge:",
                on_click=st.login,
            )
            st.caption("Or with an account of this app:")

        with st.form("login.form"):
            username = st.text_input("Username", key="login.username", autocomplete="username")
            password = st.text_input(
                "Password", type="password", key="login.password", autocomplete="current-password"
            )
            submitted = st.form_submit_button("Sign in", key="login.submit", type="primary")
        if submitted:
            try:
                actor = services.sign_in(username, password)
            except LoginRefused as exc:
                st.error(str(exc), icon=":material/lock:")
            else:
                sign_in(actor)
                st.rerun()
        st.caption(
            "Accounts are made by an administrator (`python -m tailoring users add`). After "
            f"{idle_minutes()} minutes without activity you are signed out."
        )
