"""Who is signed in: team mode's login, idle time-out and account box; local mode has none.

Team mode is set by ``TAILORING_MODE=team`` or by ``mode = "team"`` under ``[tailoring]`` in
``.streamlit/secrets.toml`` (tailoring/settings.py). The signed-in actor lives in the session;
services reads it through the source registered here, in callbacks as in the page run.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from tailoring import services, settings
from tailoring.auth import LoginRefused, idle_expired
from tailoring.model.actor import Actor
from ui.client import client_address
from ui.common import app_settings, friendly_errors

ACTOR_KEY = "actor"
LAST_SEEN = "actor.last_seen"
SIGNED_OUT = "actor.signed_out"
TOKEN = "actor.token"
COOKIE_WRITE = "actor.cookie"
# The page a person asked for before signing in (its address path and query), to land on after.
DESTINATION = "actor.destination"
COOKIE = "tailoring_sign_in"


def _idle_watch_seconds() -> float:
    # Read when this module is imported, before app.py can show a setting it cannot use: a bad
    # value waits here for the default, and the app then names it and stops.
    try:
        return settings.current().idle_watch_seconds
    except settings.SettingsError:
        return settings.Settings().idle_watch_seconds


# How often an open page checks whether the person has gone idle (so it hides within this).
IDLE_WATCH_EVERY = timedelta(seconds=_idle_watch_seconds())
ROLE_WORDS = {
    "therapist": "therapist",
    "supervisor": "supervisor",
    "trainee": "trainee",
    "admin": "administrator",
}


def _session_actor() -> Actor | None:
    """Who this browser session acts for; nobody once it has been idle too long.

    Widget callbacks run before the page script, so the idle time-out is checked here too: a
    click after the time-out saves nothing (services refuse it) before the page signs out.
    """
    if get_script_run_ctx(suppress_warning=True) is None:
        return None  # not inside a script run (a test calling services directly)
    actor = st.session_state.get(ACTOR_KEY)
    if not isinstance(actor, Actor) or _idle(datetime.now(UTC)):
        return None
    return actor


def _idle(now: datetime) -> bool:
    """Whether the person has gone idle for the time-out in every tab (never used: not idle).

    This session's own last use answers without a query while it is recent; after that the
    sign-in's last use decides, as another tab may have kept it in use. An ended sign-in (signed
    out elsewhere, expired) or a database that cannot answer counts as idle: hide, not show.
    """
    ss = st.session_state
    minutes = idle_minutes()
    if not idle_expired(ss.get(LAST_SEEN, now), now, minutes):
        return False
    token = ss.get(TOKEN)
    if not token:
        return True
    try:
        seen = services.sign_in_seen(token, minutes)
    except services.StorageError:
        return True
    return seen is None or idle_expired(seen, now, minutes)


@st.fragment(run_every=IDLE_WATCH_EVERY)
def idle_watch() -> None:
    """Hide the page once the person has gone idle, without waiting for their next click.

    A fragment run on a timer is not activity (it does not run the page, so nothing notes a
    use); when the time-out has passed it reruns the whole app, whose sign-in check signs out
    and shows the sign-in form in place of the clinical content.
    """
    if isinstance(st.session_state.get(ACTOR_KEY), Actor) and _idle(datetime.now(UTC)):
        st.rerun(scope="app")


def configure_mode() -> bool:
    """Set local or team mode from secrets or the environment; True in team mode."""
    services.set_mode(app_settings().mode)
    services.use_actor_source(_session_actor)
    return services.team_mode()


def idle_minutes() -> float:
    return app_settings().idle_minutes


def _minutes_words() -> str:
    return f"{idle_minutes():g} minutes"


def signed_in_actor() -> Actor | None:
    """The signed-in actor (team mode), checked against the accounts on every run.

    A reload, a typed address or a new tab is a new Streamlit session: it resumes the sign-in
    from the browser's cookie (a random token; the database keeps only its hash). An idle
    session, a sign-out in another tab, a disabled account or an ended token signs out here.
    """
    ss = st.session_state
    if not services.team_mode():
        return None
    actor = ss.get(ACTOR_KEY)
    now = datetime.now(UTC)
    if isinstance(actor, Actor):
        if _idle(now):
            sign_out(
                f"You were signed out after {_minutes_words()} without activity. Sign in "
                "again: everything you saved is kept."
            )
            return None
        token = ss.get(TOKEN)
        try:
            fresh = (
                services.resume_sign_in(token, idle_minutes())
                if token
                else services.account_now(actor)
            )
        except services.StorageError:
            fresh = actor  # the page says the database is down; the person stays signed in
        if fresh is None:
            sign_out(
                "You are signed out: you signed out in another tab, or this account can no "
                "longer be used. Ask your administrator if you think it should."
            )
            return None
        ss[ACTOR_KEY] = fresh
        ss[LAST_SEEN] = now
        return fresh
    token = st.context.cookies.get(COOKIE)
    if not isinstance(token, str) or not token:
        return None
    try:
        resumed = services.resume_sign_in(token, idle_minutes())
    except services.StorageError:
        return None
    if resumed is not None:
        sign_in(resumed, token)
    return resumed


def sign_in(actor: Actor, token: str | None = None) -> None:
    """Sign ``actor`` in for this session and, with a new token, for the browser's other tabs."""
    ss = st.session_state
    ss[ACTOR_KEY] = actor
    ss[LAST_SEEN] = datetime.now(UTC)
    ss.pop(SIGNED_OUT, None)
    if token is None:
        token = services.start_sign_in(actor)
        ss[COOKIE_WRITE] = token
    ss[TOKEN] = token


def sign_out(message: str = "You are signed out.") -> None:
    """End the sign-in everywhere (its token too) and forget everything this session held."""
    token = st.session_state.get(TOKEN)
    if token:
        with contextlib.suppress(services.StorageError):
            services.end_sign_in(token)
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state[SIGNED_OUT] = message
    st.session_state[COOKIE_WRITE] = ""


def write_cookie() -> None:
    """Give the browser the sign-in cookie, or take it away, after a sign-in or sign-out.

    Streamlit has no way to set a cookie from Python, so a one-line script does it, with
    SameSite=Strict (never sent by another site's link or form) and Secure under HTTPS. It lasts
    as long as the longest sign-in; the server ends the token sooner (sign-out, idle time-out,
    disabled account) and then refuses it whatever the browser sends.
    """
    token = st.session_state.pop(COOKIE_WRITE, None)
    if token is None:
        return
    age = int(services.SIGN_IN_LONGEST.total_seconds()) if token else 0
    value = json.dumps(f"{COOKIE}={token}; Path=/; Max-Age={age}; SameSite=Strict")
    st.html(
        "<script>document.cookie = "
        + value
        + " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )


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


def remember_destination() -> None:
    """Note the page whose address the sign-in form was shown at, to go there once signed in."""
    url = st.context.url or ""
    path = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    st.session_state[DESTINATION] = (path, dict(st.query_params))


def provider_configured() -> bool:
    """An OpenID Connect provider is set up under ``[auth]`` in secrets.toml."""
    return app_settings().sign_in_provider


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
                remember_destination()
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
                actor = services.sign_in(username, password, client_address())
            except LoginRefused as exc:
                st.error(str(exc), icon=":material/lock:")
            else:
                sign_in(actor)
                remember_destination()
                st.rerun()
        st.caption(
            # Clinicians read this page: the command that makes accounts is in the README.
            "No account yet, or forgotten your password? Ask your service's administrator. After "
            f"{_minutes_words()} without activity you are signed out."
        )
