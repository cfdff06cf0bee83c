"""Team mode's sign-in: passwords, single sign-on, and sign-ins kept across reloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tailoring.auth import LoginRefused, actor_for, authenticate
from tailoring.model.actor import Actor
from tailoring.services.shared import unit_of_work


def sign_in(username: str, password: str, client: str | None = None) -> Actor:
    """Check a local account's password (LoginRefused, throttled per username and per client
    address ``client``, None when not known) and return who signed in.

    A refused sign-in is refused once its failure is stored: counted towards the throttle and
    in the audit log.
    """
    with unit_of_work() as uow:
        try:
            return authenticate(
                uow.accounts,
                uow.sign_in_attempts,
                username,
                password,
                datetime.now(UTC),
                client=client,
                audit=uow.audit,
            )
        except LoginRefused as exc:
            refused = exc
    raise refused


def signed_in_elsewhere(username: str) -> Actor:
    """The account of someone the identity provider signed in (LoginRefused if none/disabled)."""
    with unit_of_work() as uow:
        actor = actor_for(uow.accounts, username.strip().lower())
        uow.record(actor.username, "login", detail="single sign-on")
        return actor


# However active, a sign-in kept across reloads ends after this long: sign in again each day.
SIGN_IN_LONGEST = timedelta(hours=12)


def start_sign_in(actor: Actor) -> str:
    """A token that keeps ``actor`` signed in across reloads and tabs (for a cookie)."""
    with unit_of_work() as uow:
        return uow.accounts.start_sign_in(actor.username)


def resume_sign_in(token: str, idle_minutes: float) -> Actor | None:
    """Who a sign-in token stands for, read afresh from the accounts; None if it has ended.

    Called on every run in team mode, so a sign-out in another tab, a disabled account, or a
    change of roles or supervisees takes effect on the next click.
    """
    idle = timedelta(minutes=idle_minutes)
    with unit_of_work() as uow:
        username = uow.accounts.resume_sign_in(token, idle, SIGN_IN_LONGEST)
        if username is None:
            return None
        actor = _enabled_actor(username)
        if actor is None:
            uow.accounts.end_sign_in(token)
        return actor


def sign_in_seen(token: str, idle_minutes: float) -> datetime | None:
    """When the sign-in was last used in any tab, not counting this question; None if ended."""
    with unit_of_work() as uow:
        idle = timedelta(minutes=idle_minutes)
        return uow.accounts.sign_in_seen(token, idle, SIGN_IN_LONGEST)


def end_sign_in(token: str) -> None:
    with unit_of_work() as uow:
        uow.accounts.end_sign_in(token)


def account_now(actor: Actor) -> Actor | None:
    """``actor`` as the accounts have them now (roles, supervisees); None if disabled or gone."""
    return _enabled_actor(actor.username)


def _enabled_actor(username: str) -> Actor | None:
    try:
        with unit_of_work() as uow:
            return actor_for(uow.accounts, username)
    except LoginRefused:
        return None
