"""Signing in: passwords, logins with throttling, and idle timeouts.

Roles and the actor a login gives are in tailoring/model/actor.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tailoring.engine.throttle import UNKNOWN_CLIENT, Policy, client_bucket, name_bucket
from tailoring.model.actor import Actor
from tailoring.passwords import MAX_LENGTH, check_password
from tailoring.settings import IDLE_MINUTES
from tailoring.storage.errors import UnknownUser

if TYPE_CHECKING:
    from tailoring.storage.accounts import AccountRepository, User
    from tailoring.storage.audit import AuditAction, AuditLog
    from tailoring.storage.throttle import SignInAttempts

# How the audit log names someone who tried a username that has no account: what was typed may
# be a password or a name, so it is not written down.
UNKNOWN_ACTOR = "(unknown username)"
# Failed logins to one username within a day before it is locked: 30 seconds at first, doubling
# with each further failure up to 15 minutes. The same for a username that has no account.
NAME_POLICY = Policy(
    max_failures=5,
    first_lock=timedelta(seconds=30),
    longest_lock=timedelta(minutes=15),
    window=timedelta(days=1),
)
# Failed logins from one client address within 15 minutes, whatever the usernames: trying one
# password on many accounts is throttled too. Looser, as a clinic may share one address.
CLIENT_POLICY = Policy(
    max_failures=20,
    first_lock=timedelta(minutes=1),
    longest_lock=timedelta(minutes=15),
    window=timedelta(minutes=15),
)
# All clients whose address is not known share one bucket: looser again, as a whole team may.
UNKNOWN_CLIENTS_POLICY = Policy(
    max_failures=100,
    first_lock=timedelta(minutes=1),
    longest_lock=timedelta(minutes=15),
    window=timedelta(minutes=15),
)
REFUSED = "Wrong username or password, or the account is disabled."

_hasher = PasswordHasher()


class LoginRefused(Exception):
    """A login that did not succeed, with the one message a person at the login form is shown."""

    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message)


def hash_password(password: str, username: str) -> str:
    """The argon2id hash of a new password for ``username``.

    ValueError, saying why in plain words, for a password that may not be set: too short or too
    long, common, a pattern, or containing the username (tailoring/passwords.py).
    """
    check_password(password, username)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def login_client_bucket(address: str | None) -> tuple[str, Policy]:
    """The throttle bucket of the client signing in, and its policy."""
    client = client_bucket(address)
    policy = UNKNOWN_CLIENTS_POLICY if client == UNKNOWN_CLIENT else CLIENT_POLICY
    return "login.client:" + client, policy


def authenticate(
    accounts: AccountRepository,
    attempts: SignInAttempts,
    username: str,
    password: str,
    now: datetime,
    client: str | None = None,
    audit: AuditLog | None = None,
) -> Actor:
    """The actor whose username and password these are, at ``now`` (timezone-aware).

    LoginRefused, with one message whatever the reason (no such account, wrong password, a
    disabled or single-sign-on-only account), so the answer does not tell which. Failures are
    counted in ``attempts`` per username (NAME_POLICY), whether or not it has an account, and
    per client address ``client`` (CLIENT_POLICY; all clients without one share a bucket). While
    either is locked every login is refused with a message to wait, without checking the
    password. An unknown username is checked against a stand-in hash, so it takes as long and
    is counted, locked and answered exactly as an account is. Each attempt is written to
    ``audit`` when given.
    """
    username = username.strip().lower()
    try:
        user = accounts.get_user(username)
    except UnknownUser:
        user = None
    actor = UNKNOWN_ACTOR if user is None else username
    name = name_bucket(username)
    client_key, client_policy = login_client_bucket(client)
    locked = attempts.locked_until((name, client_key), now)
    if locked is not None:
        _audit(audit, actor, "login_failed", "locked")
        raise LoginRefused(_wait_message(locked - now))
    stored = user.password_hash if user is not None else None
    matches = verify_password(stored or _stand_in_hash(), password) and stored is not None
    if user is None or not matches or user.disabled:
        attempts.fail(name, NAME_POLICY, now)
        attempts.fail(client_key, client_policy, now)
        _audit(audit, actor, "login_failed", _failure(user, matches))
        raise LoginRefused()
    attempts.forget(name)
    if stored is not None and _hasher.check_needs_rehash(stored):
        accounts.set_password_hash(username, _hasher.hash(password))
    _audit(audit, actor, "login", "password")
    return _actor(accounts, user)


def actor_for(accounts: AccountRepository, username: str) -> Actor:
    """The actor of an enabled account, as signed in by single sign-on or earlier in a session.

    LoginRefused (with the one login message) for a username without an account or a disabled
    account: a page that checks this on each run signs out someone disabled meanwhile.
    """
    try:
        user = accounts.get_user(username)
    except UnknownUser:
        raise LoginRefused() from None
    if user.disabled:
        raise LoginRefused()
    return _actor(accounts, user)


def idle_expired(last_seen: datetime, now: datetime, minutes: float = IDLE_MINUTES) -> bool:
    """Whether a session last used at ``last_seen`` has been idle for ``minutes`` or more."""
    if minutes <= 0:
        raise ValueError("the idle timeout must be more than zero minutes")
    return now - last_seen >= timedelta(minutes=minutes)


def _actor(accounts: AccountRepository, user: User) -> Actor:
    supervisees = accounts.supervisees(user.username) if "supervisor" in user.roles else []
    return Actor(user.username, user.display_name, user.roles, frozenset(supervisees))


@cache
def _stand_in_hash() -> str:
    """Checked when there is no hash to check, so that a login takes as long either way."""
    return _hasher.hash("no account has this password")


def _failure(user: User | None, matches: bool) -> str:
    """Why a login failed, for the audit log only."""
    if user is None:
        return "no such account"
    if user.disabled and matches:
        return "account disabled"
    return "wrong password" if user.password_hash else "no password (single sign-on only)"


def _wait_message(wait: timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    if seconds == 1:
        amount = "1 second"
    elif seconds < 120:
        amount = f"{seconds} seconds"
    else:
        amount = f"{(seconds + 59) // 60} minutes"
    return f"Too many failed logins. Wait {amount}, then try again."


def _audit(audit: AuditLog | None, actor: str, action: AuditAction, detail: str) -> None:
    if audit is not None:
        audit.record(actor, action, detail=detail)
