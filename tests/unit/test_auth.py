"""Passwords, logins with one refusal message, throttling of repeated failures, idle timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from tailoring import auth
from tailoring.auth import (
    LOCAL_USER,
    REFUSED,
    ROLES,
    UNKNOWN_ACTOR,
    LoginRefused,
    LoginThrottle,
    actor_for,
    authenticate,
    hash_password,
    idle_expired,
    local_actor,
    lock_time,
    verify_password,
)
from tailoring.storage.accounts import User
from tailoring.storage.errors import UnknownUser

NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class FakeAccounts:
    """Accounts in memory, as AccountRepository keeps them."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.supervised: dict[str, list[str]] = {}

    def add(self, username: str, *roles: str, password: str | None = PASSWORD, **changes: Any):
        self.users[username] = User(
            id=len(self.users) + 1,
            username=username,
            display_name=username.title(),
            roles=frozenset(roles),  # type: ignore[arg-type]
            password_hash=auth._hasher.hash(password) if password else None,
            disabled=False,
            failed_logins=0,
            locked_until=None,
            created_at=NOW,
            updated_at=NOW,
        )
        self.change(username, **changes)

    def change(self, username: str, **changes: Any) -> None:
        self.users[username] = replace(self.get_user(username), **changes)

    def get_user(self, username: str) -> User:
        if username not in self.users:
            raise UnknownUser(username)
        return self.users[username]

    def record_failed_login(self, username: str) -> int:
        self.change(username, failed_logins=self.get_user(username).failed_logins + 1)
        return self.users[username].failed_logins

    def lock_until(self, username: str, until: datetime) -> None:
        self.change(username, locked_until=until)

    def reset_failed_logins(self, username: str) -> None:
        self.change(username, failed_logins=0, locked_until=None)

    def set_password_hash(self, username: str, password_hash: str | None) -> None:
        self.change(username, password_hash=password_hash, failed_logins=0, locked_until=None)

    def supervisees(self, supervisor: str) -> list[str]:
        self.get_user(supervisor)
        return self.supervised.get(supervisor, [])


class FakeAudit:
    """An audit log that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def record(self, actor: str, action: str, case_id=None, reference=None, detail="") -> None:
        self.entries.append((actor, action, detail))


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cheap argon2 parameters, so that tests of many logins run in milliseconds."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth._stand_in_hash.cache_clear()
    yield
    auth._stand_in_hash.cache_clear()


@pytest.fixture
def accounts(fast_hashing: None) -> FakeAccounts:
    """A therapist, a supervisor of two people, a disabled account and a single-sign-on one."""
    fake = FakeAccounts()
    fake.add("dr.a", "therapist")
    fake.add("sup.b", "supervisor", "therapist")
    fake.supervised["sup.b"] = ["dr.a", "tr.c"]
    fake.add("gone.c", "therapist", disabled=True)
    fake.add("sso.d", "trainee", password=None)
    return fake


@pytest.fixture
def audit() -> FakeAudit:
    return FakeAudit()


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle()


def login(accounts: FakeAccounts, username: str, password: str, at: datetime, **kw: Any):
    return authenticate(accounts, username, password, at, **kw)  # type: ignore[arg-type]


def refusal(accounts: FakeAccounts, username: str, password: str, at: datetime, **kw: Any) -> str:
    with pytest.raises(LoginRefused) as refused:
        login(accounts, username, password, at, **kw)
    return str(refused.value)


def test_passwords_are_hashed_with_argon2id_and_verified() -> None:
    hashed = hash_password(PASSWORD, "dr.a")
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert hash_password(PASSWORD, "dr.a") != hashed  # salted
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD.upper())
    assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("", "at least 10 characters"),
        ("short", "at least 10 characters"),
        ("x" * 1025, "at most 1024 characters"),
        ("aaaaaaaaaa", "repeats one character"),
        ("Password2024!", "common passwords"),
        ("qwertyuiop", "run of keys"),
        ("dr.a kettle harbour", "contains the username"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(password: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        hash_password(password, "dr.a")


def test_a_login_gives_the_actor_with_roles_and_supervisees(accounts, audit, throttle) -> None:
    actor = login(accounts, " Sup.B ", PASSWORD, NOW, audit=audit, throttle=throttle)
    assert (actor.username, actor.display_name, actor.local) == ("sup.b", "Sup.B", False)
    assert actor.roles == {"supervisor", "therapist"}
    assert actor.supervisees == {"dr.a", "tr.c"}
    assert login(accounts, "dr.a", PASSWORD, NOW, throttle=throttle).supervisees == frozenset()
    assert audit.entries == [("sup.b", "login", "password")]


@pytest.mark.parametrize(
    ("username", "password", "why"),
    [
        ("dr.a", "wrong horse battery", "wrong password"),
        ("nobody", PASSWORD, "no such account"),
        ("gone.c", PASSWORD, "account disabled"),
        ("gone.c", "wrong horse battery", "wrong password"),
        ("sso.d", PASSWORD, "no password (single sign-on only)"),
    ],
)
def test_every_failed_login_gets_the_same_message(
    accounts, audit, throttle, username: str, password: str, why: str
) -> None:
    message = refusal(accounts, username, password, NOW, audit=audit, throttle=throttle)
    assert message == REFUSED == "Wrong username or password, or the account is disabled."
    # The log tells an administrator why, but never writes down what was typed for a username
    # that has no account: it may be a password.
    actor = UNKNOWN_ACTOR if username == "nobody" else username
    assert audit.entries == [(actor, "login_failed", why)]


def test_failures_are_counted_and_a_login_forgets_them(accounts, throttle) -> None:
    for _ in range(3):
        refusal(accounts, "dr.a", "wrong horse battery", NOW, throttle=throttle)
    assert accounts.users["dr.a"].failed_logins == 3
    login(accounts, "dr.a", PASSWORD, NOW, throttle=throttle)
    assert accounts.users["dr.a"].failed_logins == 0


def test_lock_times_start_at_30_seconds_double_and_stop_at_15_minutes() -> None:
    assert [lock_time(n).total_seconds() for n in range(1, 12)] == [
        0,
        0,
        0,
        0,
        30,
        60,
        120,
        240,
        480,
        900,
        900,
    ]
    assert lock_time(10_000) == timedelta(minutes=15)


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    accounts, audit, throttle
) -> None:
    for attempt in range(5):
        message = refusal(accounts, "dr.a", f"guess number {attempt}", NOW, throttle=throttle)
        assert message == REFUSED
    assert accounts.users["dr.a"].locked_until == NOW + timedelta(seconds=30)

    later = NOW + timedelta(seconds=10)
    message = refusal(accounts, "dr.a", PASSWORD, later, audit=audit, throttle=throttle)
    assert message == "Too many failed logins. Wait 20 seconds, then try again."
    assert audit.entries == [("dr.a", "login_failed", "locked")]
    # Tries during the lock are not counted: they neither lengthen it nor reach the password.
    assert accounts.users["dr.a"].failed_logins == 5

    after = NOW + timedelta(seconds=30)
    assert login(accounts, "dr.a", PASSWORD, after, throttle=throttle).username == "dr.a"
    assert (accounts.users["dr.a"].failed_logins, accounts.users["dr.a"].locked_until) == (0, None)


def test_each_failure_after_a_lock_doubles_it(accounts, throttle) -> None:
    at = NOW
    for _ in range(5):
        refusal(accounts, "dr.a", "wrong horse battery", at, throttle=throttle)
    locks = []
    for _ in range(6):
        at = accounts.users["dr.a"].locked_until
        refusal(accounts, "dr.a", "wrong horse battery", at, throttle=throttle)
        locks.append(accounts.users["dr.a"].locked_until - at)
    assert [lock.total_seconds() for lock in locks] == [60, 120, 240, 480, 900, 900]
    message = refusal(accounts, "dr.a", PASSWORD, at + timedelta(minutes=1), throttle=throttle)
    assert message == "Too many failed logins. Wait 14 minutes, then try again."


def test_an_unknown_username_is_throttled_like_an_account(accounts, throttle) -> None:
    times = [NOW + timedelta(seconds=s) for s in (0, 1, 2, 3, 4, 5, 33, 34, 35, 94, 95)]
    known = [refusal(accounts, "dr.a", "wrong horse battery", t, throttle=throttle) for t in times]
    unknown = [
        refusal(accounts, "ghost", "wrong horse battery", t, throttle=throttle) for t in times
    ]
    assert unknown == known
    assert known[:5] == [REFUSED] * 5
    assert known[5] == "Too many failed logins. Wait 29 seconds, then try again."
    assert known[6] == "Too many failed logins. Wait 1 second, then try again."
    assert known[7] == REFUSED
    assert known[8] == "Too many failed logins. Wait 59 seconds, then try again."
    assert known[9] == REFUSED
    assert known[10] == "Too many failed logins. Wait 119 seconds, then try again."


def test_the_throttle_of_unknown_usernames_is_bounded(accounts) -> None:
    throttle = LoginThrottle(capacity=2)
    for _ in range(5):
        refusal(accounts, "ghost", "wrong horse battery", NOW, throttle=throttle)
    assert throttle.locked_until("ghost", NOW) == NOW + timedelta(seconds=30)
    throttle.fail("other.1", NOW)
    throttle.fail("other.2", NOW)
    assert throttle.locked_until("ghost", NOW) is None


def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(
    accounts, throttle, monkeypatch: pytest.MonkeyPatch
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts.change("dr.a", password_hash=weaker.hash(PASSWORD))
    monkeypatch.setattr(auth, "_hasher", stronger)
    login(accounts, "dr.a", PASSWORD, NOW, throttle=throttle)
    renewed = accounts.users["dr.a"].password_hash
    assert not stronger.check_needs_rehash(renewed)
    assert verify_password(renewed, PASSWORD)


def test_actor_for_refuses_unknown_and_disabled_accounts(accounts) -> None:
    assert actor_for(accounts, "sup.b").supervisees == {"dr.a", "tr.c"}  # type: ignore[arg-type]
    for username in ("nobody", "gone.c"):
        with pytest.raises(LoginRefused, match=REFUSED):
            actor_for(accounts, username)  # type: ignore[arg-type]


def test_the_local_user_has_every_role() -> None:
    local = local_actor()
    assert (local.username, local.local, local.roles) == (LOCAL_USER, True, frozenset(ROLES))
    assert local_actor("dr.named").username == "dr.named"


@pytest.mark.parametrize(
    ("idle", "expired"),
    [
        (timedelta(0), False),
        (timedelta(minutes=29, seconds=59), False),
        (timedelta(minutes=30), True),
    ],
)
def test_idle_sessions_expire(idle: timedelta, expired: bool) -> None:
    assert idle_expired(NOW - idle, NOW, 30) is expired


def test_the_idle_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one minute"):
        idle_expired(NOW, NOW, 0)
