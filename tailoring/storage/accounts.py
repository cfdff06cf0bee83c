"""Accounts, their roles and login counters, and who supervises whom, in the SQL database."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailoring.engine.throttle import name_bucket
from tailoring.model.actor import ROLES, Role
from tailoring.model.text import NAME_CHARS, clean
from tailoring.storage.errors import UnknownUser, UsernameTaken
from tailoring.storage.tables import sign_ins, supervision_assignments, users
from tailoring.storage.throttle import SignInAttempts, forget_bucket

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,40}")
HASH_LENGTH = 255
# How often a sign-in's last use is written: a write per click is not needed for a time-out
# counted in minutes (a quarter of the time-out when that is shorter, so a tab in use always
# keeps the others from timing out).
SEEN_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class User:
    """An account: who it is and what it may do.

    ``password_hash`` is None for an account that signs in through single sign-on only.
    """

    id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str | None = field(repr=False)
    disabled: bool
    created_at: datetime
    updated_at: datetime


class AccountRepository:
    """The accounts of a team and their supervision assignments.

    Accounts are disabled, never deleted, so that cases and the audit log keep naming people who
    existed. ``updated_at`` says when the account was last changed (roles, password, state).
    Failed logins are counted apart, for every username typed (tailoring/storage/throttle.py).
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_user(
        self,
        username: str,
        roles: Iterable[Role],
        display_name: str = "",
        password_hash: str | None = None,
    ) -> User:
        """Create an enabled account and return it; the display name defaults to the username.

        ValueError for a username outside 3–40 lower-case letters, digits, dots, dashes and
        underscores, an unknown or missing role, or a display name over 80 characters.
        UsernameTaken if another account has the username.
        """
        check_username(username)
        display_name = clean(display_name).strip() or username
        if len(display_name) > NAME_CHARS:
            raise ValueError(f"the display name must be at most {NAME_CHARS} characters")
        _check_hash(password_hash)
        now = _now()
        try:
            self._connection.execute(
                insert(users).values(
                    username=username,
                    display_name=display_name,
                    roles=_roles_text(roles),
                    password_hash=password_hash,
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            return _load(self._connection, username)
        except IntegrityError as error:
            raise UsernameTaken(username) from error

    def get_user(self, username: str) -> User:
        """The account called ``username``; UnknownUser if there is none."""
        return _load(self._connection, username)

    def list_users(self) -> list[User]:
        """Every account, disabled ones included, by username."""
        rows = self._connection.execute(select(users).order_by(users.c.username))
        return [_user(row._mapping) for row in rows]

    def set_roles(self, username: str, roles: Iterable[Role]) -> None:
        """Replace the account's roles (at least one)."""
        self._change(username, roles=_roles_text(roles))

    def disable(self, username: str) -> None:
        """Stop the account from signing in, ending its sign-ins; cases and audit entries stay."""
        _set(self._connection, username, updated_at=_now(), disabled=True)
        _end_sign_ins(self._connection, sign_ins.c.username == username)

    def enable(self, username: str) -> None:
        """Let a disabled account sign in again."""
        self._change(username, disabled=False)

    def set_password_hash(self, username: str, password_hash: str | None) -> None:
        """Replace the account's password hash (None: single sign-on only) and lift any lock on
        its logins."""
        _check_hash(password_hash)
        _set(self._connection, username, updated_at=_now(), password_hash=password_hash)
        forget_bucket(self._connection, name_bucket(username))

    def login_locked_until(self, username: str, now: datetime) -> datetime | None:
        """When the lock on logins to ``username`` ends; None if it is not locked at ``now``."""
        return SignInAttempts(self._connection).locked_until([name_bucket(username)], now)

    def assign_supervisor(self, supervisor: str, supervisee: str) -> bool:
        """Let ``supervisor`` read the cases of ``supervisee``; False if already assigned.

        ValueError if ``supervisor`` lacks the supervisor role or is ``supervisee``.
        """
        if supervisor == supervisee:
            raise ValueError("a supervisor cannot supervise themselves")
        try:
            boss = _load(self._connection, supervisor)
            if "supervisor" not in boss.roles:
                raise ValueError(f"{supervisor} does not have the supervisor role; give it first")
            member = _load(self._connection, supervisee)
            assigned = select(supervision_assignments.c.supervisor_id).where(_pair(boss, member))
            if self._connection.execute(assigned).first() is not None:
                return False
            self._connection.execute(
                insert(supervision_assignments).values(
                    supervisor_id=boss.id, supervisee_id=member.id, assigned_at=_now()
                )
            )
        except IntegrityError:
            return False  # assigned at the same moment by someone else
        return True

    def unassign_supervisor(self, supervisor: str, supervisee: str) -> bool:
        """End the assignment; False if there was none."""
        boss, member = _load(self._connection, supervisor), _load(self._connection, supervisee)
        removed = self._connection.execute(
            delete(supervision_assignments).where(_pair(boss, member))
        )
        return removed.rowcount > 0

    def supervisees(self, supervisor: str) -> list[str]:
        """The usernames ``supervisor`` supervises, sorted; UnknownUser for no such account."""
        supervisee = users.alias("supervisee")
        a = supervision_assignments.c
        boss = _load(self._connection, supervisor)
        rows = self._connection.execute(
            select(supervisee.c.username)
            .join(supervision_assignments, a.supervisee_id == supervisee.c.id)
            .where(a.supervisor_id == boss.id)
            .order_by(supervisee.c.username)
        )
        return list(rows.scalars())

    def start_sign_in(self, username: str) -> str:
        """A new random token that signs ``username`` in until it ends; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        now = _now()
        _load(self._connection, username)
        self._connection.execute(
            insert(sign_ins).values(
                token_hash=_token_hash(token),
                username=username,
                started_at=now,
                last_seen_at=now,
            )
        )
        return token

    def resume_sign_in(self, token: str, idle: timedelta, longest: timedelta) -> str | None:
        """The username a token signs in, noting it was seen now; None if ended or expired.

        A token ends when unused for ``idle`` or older than ``longest``; ending is stored, so an
        expired token never comes back.
        """
        now = _now()
        row = self._live_sign_in(token, idle, longest, now)
        if row is None:
            return None
        if now - row.last_seen_at >= min(SEEN_EVERY, idle / 4):
            key = sign_ins.c.token_hash == row.token_hash
            self._connection.execute(update(sign_ins).where(key).values(last_seen_at=now))
        return str(row.username)

    def sign_in_seen(self, token: str, idle: timedelta, longest: timedelta) -> datetime | None:
        """When a token's sign-in was last used, without noting a use; None if ended or expired.

        The idle watch of an open page asks this on a timer, which is not activity.
        """
        row = self._live_sign_in(token, idle, longest, _now())
        return None if row is None else row.last_seen_at

    def _live_sign_in(
        self, token: str, idle: timedelta, longest: timedelta, now: datetime
    ) -> Row[Any] | None:
        """A token's sign-in row if it has not ended or expired; an expired one is ended here."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        key = sign_ins.c.token_hash == _token_hash(token)
        row = self._connection.execute(select(sign_ins).where(key)).first()
        if row is None or row.ended_at is not None:
            return None
        if now - row.last_seen_at >= idle or now - row.started_at >= longest:
            _end_sign_ins(self._connection, key)
            return None
        return row

    def end_sign_in(self, token: str) -> None:
        """End the sign-in of this token (sign-out, idle time-out); nothing if there is none."""
        _end_sign_ins(self._connection, sign_ins.c.token_hash == _token_hash(token))

    def _change(self, username: str, **values: Any) -> None:
        """Change the account and stamp ``updated_at``."""
        _set(self._connection, username, updated_at=_now(), **values)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _end_sign_ins(connection: Connection, where: ColumnElement[bool]) -> None:
    connection.execute(
        update(sign_ins).where(where, sign_ins.c.ended_at.is_(None)).values(ended_at=_now())
    )


def _load(connection: Connection, username: str) -> User:
    # No account can have a name outside the pattern; asking the database about one with a NUL
    # in it made PostgreSQL refuse the query, shown as "database cannot be used right now".
    if not USERNAME_PATTERN.fullmatch(username):
        raise UnknownUser(username)
    row = connection.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise UnknownUser(username)
    return _user(row._mapping)


def _pair(supervisor: User, supervisee: User) -> ColumnElement[bool]:
    a = supervision_assignments.c
    return (a.supervisor_id == supervisor.id) & (a.supervisee_id == supervisee.id)


def _set(connection: Connection, username: str, **values: Any) -> None:
    """Update the account's columns; UnknownUser if there is no such account."""
    changed = connection.execute(update(users).where(users.c.username == username).values(values))
    if changed.rowcount == 0:
        raise UnknownUser(username)


def _user(row: Any) -> User:
    fields = dict(row)
    fields["roles"] = frozenset(fields["roles"].split(","))
    return User(**fields)


def _roles_text(roles: Iterable[Role]) -> str:
    """The roles as stored: known, at least one, in the order of ROLES."""
    given = set(roles)
    unknown = given - set(ROLES)
    if unknown:
        raise ValueError(
            f"unknown role {', '.join(sorted(unknown))}; expected some of {', '.join(ROLES)}"
        )
    if not given:
        raise ValueError(f"an account needs at least one role: {', '.join(ROLES)}")
    return ",".join(role for role in ROLES if role in given)


def check_username(username: str) -> None:
    """ValueError unless ``username`` is 3–40 lower-case letters, digits, dots, dashes, ``_``."""
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        raise ValueError(
            "a username is 3–40 lower-case letters, digits, dots, dashes or underscores"
        )


def _check_hash(password_hash: str | None) -> None:
    if password_hash is not None and not 1 <= len(password_hash) <= HASH_LENGTH:
        raise ValueError(f"a password hash must be 1–{HASH_LENGTH} characters long")


def _now() -> datetime:
    return datetime.now(UTC)
