"""Team mode's accounts: sign-in (passwords, single sign-on, sign-ins kept across reloads), and
the accounts themselves, added, listed and changed (the ``users`` command)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tailoring import access
from tailoring.auth import LoginRefused, actor_for, authenticate, hash_password
from tailoring.model.actor import ROLES, Actor, Role
from tailoring.services.shared import current_actor, current_user, unit_of_work
from tailoring.storage.accounts import check_username
from tailoring.storage.errors import UnknownUser, UsernameTaken
from tailoring.storage.unit_of_work import UnitOfWork


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


# Managing accounts ---------------------------------------------------------------------------
# Each change is audited as "account_changed" with the change in words (usernames and roles
# only), and returns those words.


@dataclass(frozen=True)
class Account:
    """An account as a list of accounts shows it."""

    username: str
    display_name: str
    roles: tuple[Role, ...]
    disabled: bool
    single_sign_on_only: bool
    # Until when sign-ins are refused after too many wrong passwords; None when not locked.
    locked_until: datetime | None
    supervisees: tuple[str, ...]


def check_new_username(username: str) -> None:
    """Refuse a username that cannot be added (ValueError, UsernameTaken): before a password is
    asked for."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        check_username(username)
        try:
            uow.accounts.get_user(username)
        except UnknownUser:
            return
    raise UsernameTaken(username)


def check_account(username: str) -> None:
    """Refuse a username with no account (UnknownUser): before a new password is asked for."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        uow.accounts.get_user(username)


def add_account(
    username: str, roles: Iterable[Role], display_name: str = "", password: str | None = None
) -> str:
    """Add an enabled account; ``password`` None makes one that signs in by single sign-on only.

    ValueError for a weak password, a username or display name the accounts refuse, or no role;
    UsernameTaken if the username has an account.
    """
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        password_hash = None if password is None else hash_password(password, username)
        user = uow.accounts.add_user(username, roles, display_name, password_hash)
        sso = ", single sign-on only" if password_hash is None else ""
        return _changed(uow, f"added {user.username} ({_roles_text(user.roles)}{sso})")


def list_accounts() -> list[Account]:
    """Every account, with its supervisees and any sign-in lock."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        now = datetime.now(UTC)
        return [
            Account(
                username=user.username,
                display_name=user.display_name,
                roles=_in_order(user.roles),
                disabled=user.disabled,
                single_sign_on_only=user.password_hash is None,
                locked_until=uow.accounts.login_locked_until(user.username, now),
                supervisees=tuple(
                    uow.accounts.supervisees(user.username) if "supervisor" in user.roles else ()
                ),
            )
            for user in uow.accounts.list_users()
        ]


def disable_account(username: str) -> str:
    """Stop an account from signing in (nothing is deleted); UnknownUser if there is none."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        uow.accounts.disable(username)
        return _changed(uow, f"disabled {username}")


def enable_account(username: str) -> str:
    """Let a disabled account sign in again; UnknownUser if there is none."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        uow.accounts.enable(username)
        return _changed(uow, f"enabled {username}")


def reset_password(username: str, password: str) -> str:
    """Set a new password, which lifts any sign-in lock (ValueError for a weak one)."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        uow.accounts.set_password_hash(username, hash_password(password, username))
        return _changed(uow, f"set a new password for {username}")


def set_account_roles(username: str, roles: Iterable[Role]) -> str:
    """Replace an account's roles (ValueError for none or an unknown one)."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        uow.accounts.set_roles(username, roles)
        changed = _roles_text(uow.accounts.get_user(username).roles)
        return _changed(uow, f"{username} now has the roles {changed}")


def assign_supervisor(supervisor: str, supervisee: str) -> str:
    """Let ``supervisor`` read the cases of ``supervisee`` (ValueError as the accounts say)."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        if uow.accounts.assign_supervisor(supervisor, supervisee):
            return _changed(uow, f"{supervisor} now supervises {supervisee}")
    return f"{supervisor} already supervises {supervisee}"


def unassign_supervisor(supervisor: str, supervisee: str) -> str:
    """End ``supervisor``'s supervision of ``supervisee``."""
    with unit_of_work() as uow:
        access.require(current_actor(), "accounts.manage")
        if uow.accounts.unassign_supervisor(supervisor, supervisee):
            return _changed(uow, f"{supervisor} no longer supervises {supervisee}")
    return f"{supervisor} did not supervise {supervisee}"


def _changed(uow: UnitOfWork, change: str) -> str:
    uow.record(current_user(), "account_changed", detail=change)
    return change


def _in_order(roles: Iterable[Role]) -> tuple[Role, ...]:
    return tuple(sorted(roles, key=ROLES.index))


def _roles_text(roles: Iterable[Role]) -> str:
    return ",".join(_in_order(roles))
