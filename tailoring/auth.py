"""Who is acting: roles, the local user, passwords, logins with throttling, and idle timeouts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tailoring.passwords import MAX_LENGTH, check_password
from tailoring.storage.errors import UnknownUser

if TYPE_CHECKING:
    from tailoring.storage.accounts import AccountRepository, User
    from tailoring.storage.audit import AuditAction, AuditLog

Role = Literal["therapist", "supervisor", "trainee", "admin"]
ROLES: tuple[Role, ...] = ("therapist", "supervisor", "trainee", "admin")
# The one user of local mode, as services.current_user() names them without TAILORING_USER.
LOCAL_USER = "local user"
# How the audit log names someone who tried a username that has no account: what was typed may
# be a password or a name, so it is not written down.
UNKNOWN_ACTOR = "(unknown username)"
# Failed logins in a row before the account is locked, and how long: the first lock lasts
# FIRST_LOCK, each further failure doubles it, up to LONGEST_LOCK.
FREE_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)
IDLE_MINUTES = 30
REFUSED = "Wrong username or password, or the account is disabled."

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Someone using the app, with what they may do.

    ``supervisees`` are the usernames whose cases and attempts a supervisor reads. ``local`` is
    the single user of local mode, who holds every role and for whom every case is their own.
    """

    username: str
    display_name: str
    roles: frozenset[Role]
    supervisees: frozenset[str] = frozenset()
    local: bool = False


def local_actor(username: str = LOCAL_USER) -> Actor:
    """The one user of local mode (no login), named ``username``: every role, every case."""
    return Actor(username, username, frozenset(ROLES), local=True)


LOCAL = local_actor()


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


def lock_time(failures: int) -> timedelta:
    """How long an account stays locked after ``failures`` failed logins in a row (zero: not)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** min(failures - FREE_FAILURES, 16), LONGEST_LOCK)


class LoginThrottle:
    """Failed logins to usernames that have no account, kept in memory.

    They are throttled exactly as accounts are, so the answers to a login do not tell whether a
    username exists. At most ``capacity`` usernames are remembered, the oldest forgotten first;
    a restart forgets them all.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._failures: OrderedDict[str, tuple[int, datetime | None]] = OrderedDict()
        self._guard = threading.Lock()

    def locked_until(self, username: str, now: datetime) -> datetime | None:
        """When the lock on ``username`` ends, or None if it is not locked at ``now``."""
        with self._guard:
            _count, until = self._failures.get(username, (0, None))
        return until if until is not None and until > now else None

    def fail(self, username: str, now: datetime) -> None:
        """Count one more failed login to ``username``, locking it as an account would be."""
        with self._guard:
            count = self._failures.pop(username, (0, None))[0] + 1
            wait = lock_time(count)
            self._failures[username] = (count, now + wait if wait else None)
            while len(self._failures) > self._capacity:
                self._failures.popitem(last=False)


UNKNOWN_USERNAMES = LoginThrottle()


def authenticate(
    accounts: AccountRepository,
    username: str,
    password: str,
    now: datetime,
    audit: AuditLog | None = None,
    throttle: LoginThrottle = UNKNOWN_USERNAMES,
) -> Actor:
    """The actor whose username and password these are, at ``now`` (timezone-aware).

    LoginRefused, with one message whatever the reason (no such account, wrong password, a
    disabled or single-sign-on-only account), so the answer does not tell which. After
    FREE_FAILURES failures in a row the username is locked for FIRST_LOCK, doubling with each
    further failure up to LONGEST_LOCK; while it is locked every login to it is refused with a
    message to wait, without checking the password. Unknown usernames are throttled the same way
    by ``throttle``. Each attempt is written to ``audit`` when given.
    """
    username = username.strip().lower()
    try:
        user = accounts.get_user(username)
    except UnknownUser:
        user = None
    locked = throttle.locked_until(username, now) if user is None else _lock_of(user, now)
    actor = UNKNOWN_ACTOR if user is None else username
    if locked is not None:
        _audit(audit, actor, "login_failed", "locked")
        raise LoginRefused(_wait_message(locked - now))
    stored = user.password_hash if user is not None else None
    matches = verify_password(stored or _stand_in_hash(), password) and stored is not None
    if user is None:
        throttle.fail(username, now)
        _audit(audit, actor, "login_failed", "no such account")
        raise LoginRefused()
    if not matches or user.disabled:
        failures = accounts.record_failed_login(username)
        wait = lock_time(failures)
        if wait:
            accounts.lock_until(username, now + wait)
        reason = "account disabled" if user.disabled and matches else _failure(user)
        _audit(audit, actor, "login_failed", reason)
        raise LoginRefused()
    if user.failed_logins or user.locked_until is not None:
        accounts.reset_failed_logins(username)
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


def idle_expired(last_seen: datetime, now: datetime, minutes: int = IDLE_MINUTES) -> bool:
    """Whether a session last used at ``last_seen`` has been idle for ``minutes`` or more."""
    if minutes <= 0:
        raise ValueError("the idle timeout must be at least one minute")
    return now - last_seen >= timedelta(minutes=minutes)


def _actor(accounts: AccountRepository, user: User) -> Actor:
    supervisees = accounts.supervisees(user.username) if "supervisor" in user.roles else []
    return Actor(user.username, user.display_name, user.roles, frozenset(supervisees))


@cache
def _stand_in_hash() -> str:
    """Checked when there is no hash to check, so that a login takes as long either way."""
    return _hasher.hash("no account has this password")


def _lock_of(user: User, now: datetime) -> datetime | None:
    until = user.locked_until
    return until if until is not None and until > now else None


def _failure(user: User) -> str:
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
