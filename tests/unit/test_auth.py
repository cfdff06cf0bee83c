"""Passwords, logins with one refusal message, throttling of repeated failures, idle timeouts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, Type

from tailoring import auth
from tailoring.auth import (
    CLIENT_POLICY,
    REFUSED,
    UNKNOWN_ACTOR,
    UNKNOWN_CLIENTS_POLICY,
    LoginRefused,
    actor_for,
    authenticate,
    hash_password,
    idle_expired,
    verify_password,
)
from tailoring.engine.throttle import Failures, Policy, after_failure, name_bucket
from tailoring.model.actor import ROLES, local_actor
from tailoring.settings import LOCAL_USER
from tailoring.storage.accounts import User
from tailoring.storage.errors import UnknownUser
from tests.conftest import APP_HASHER

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

    def set_password_hash(self, username: str, password_hash: str | None) -> None:
        self.change(username, password_hash=password_hash)

    def supervisees(self, supervisor: str) -> list[str]:
        self.get_user(supervisor)
        return self.supervised.get(supervisor, [])


class MemoryAttempts:
    """Failure counts in memory, as SignInAttempts keeps them in the database."""

    def __init__(self) -> None:
        self.buckets: dict[str, Failures] = {}

    def locked_until(self, buckets: Iterable[str], now: datetime) -> datetime | None:
        locks = [self.buckets[b].lock_at(now) for b in buckets if b in self.buckets]
        return max((lock for lock in locks if lock is not None), default=None)

    def fail(self, bucket: str, policy: Policy, now: datetime) -> Failures:
        self.buckets[bucket] = after_failure(self.buckets.get(bucket), policy, now)
        return self.buckets[bucket]

    def forget(self, bucket: str) -> None:
        self.buckets.pop(bucket, None)


class FakeAudit:
    """An audit log that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def record(self, actor: str, action: str, case_id=None, reference=None, detail="") -> None:
        self.entries.append((actor, action, detail))


@pytest.fixture
def accounts() -> FakeAccounts:
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
def attempts() -> MemoryAttempts:
    return MemoryAttempts()


def login(
    accounts: FakeAccounts,
    username: str,
    password: str,
    at: datetime,
    attempts: MemoryAttempts,
    **kw: Any,
):
    return authenticate(accounts, attempts, username, password, at, **kw)  # type: ignore[arg-type]


def refusal(accounts: FakeAccounts, username: str, password: str, at: datetime, **kw: Any) -> str:
    with pytest.raises(LoginRefused) as refused:
        login(accounts, username, password, at, **kw)
    return str(refused.value)


def lock_of(attempts: MemoryAttempts, username: str) -> datetime | None:
    counted = attempts.buckets.get(name_bucket(username))
    return None if counted is None else counted.locked_until


def test_the_app_hashes_at_argon2s_recommended_cost_and_only_tests_cheaply() -> None:
    # RFC 9106's second recommendation (argon2-cffi's default): 3 passes over 64 MiB, 4 lanes.
    assert (APP_HASHER.type, APP_HASHER.time_cost, APP_HASHER.memory_cost) == (Type.ID, 3, 65536)
    assert (APP_HASHER.parallelism, APP_HASHER.hash_len, APP_HASHER.salt_len) == (4, 32, 16)
    assert APP_HASHER.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hash_password(PASSWORD, "dr.a").startswith("$argon2id$v=19$m=64,t=1,p=1$")


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


def test_a_login_gives_the_actor_with_roles_and_supervisees(accounts, audit, attempts) -> None:
    actor = login(accounts, " Sup.B ", PASSWORD, NOW, audit=audit, attempts=attempts)
    assert (actor.username, actor.display_name, actor.local) == ("sup.b", "Sup.B", False)
    assert actor.roles == {"supervisor", "therapist"}
    assert actor.supervisees == {"dr.a", "tr.c"}
    assert login(accounts, "dr.a", PASSWORD, NOW, attempts=attempts).supervisees == frozenset()
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
    accounts, audit, attempts, username: str, password: str, why: str
) -> None:
    message = refusal(accounts, username, password, NOW, audit=audit, attempts=attempts)
    assert message == REFUSED == "Wrong username or password, or the account is disabled."
    # The log tells an administrator why, but never writes down what was typed for a username
    # that has no account: it may be a password.
    actor = UNKNOWN_ACTOR if username == "nobody" else username
    assert audit.entries == [(actor, "login_failed", why)]


def test_failures_are_counted_and_a_login_forgets_them(accounts, attempts) -> None:
    for _ in range(3):
        refusal(accounts, "dr.a", "wrong horse battery", NOW, attempts=attempts)
    assert attempts.buckets[name_bucket("dr.a")].count == 3
    login(accounts, "dr.a", PASSWORD, NOW, attempts=attempts)
    assert name_bucket("dr.a") not in attempts.buckets
    # The client's count stays: an account of one's own must not reset guessing at others.
    assert attempts.buckets["login.client:unknown"].count == 3


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    accounts, audit, attempts
) -> None:
    for attempt in range(5):
        message = refusal(accounts, "dr.a", f"guess number {attempt}", NOW, attempts=attempts)
        assert message == REFUSED
    assert lock_of(attempts, "dr.a") == NOW + timedelta(seconds=30)

    later = NOW + timedelta(seconds=10)
    message = refusal(accounts, "dr.a", PASSWORD, later, audit=audit, attempts=attempts)
    assert message == "Too many failed logins. Wait 20 seconds, then try again."
    assert audit.entries == [("dr.a", "login_failed", "locked")]
    # Tries during the lock are not counted: they neither lengthen it nor reach the password.
    assert attempts.buckets[name_bucket("dr.a")].count == 5

    after = NOW + timedelta(seconds=30)
    assert login(accounts, "dr.a", PASSWORD, after, attempts=attempts).username == "dr.a"
    assert lock_of(attempts, "dr.a") is None


def test_each_failure_after_a_lock_doubles_it(accounts, attempts) -> None:
    at = NOW
    for _ in range(5):
        refusal(accounts, "dr.a", "wrong horse battery", at, attempts=attempts)
    locks = []
    for _ in range(6):
        at = lock_of(attempts, "dr.a")
        refusal(accounts, "dr.a", "wrong horse battery", at, attempts=attempts)
        locks.append(lock_of(attempts, "dr.a") - at)
    assert [lock.total_seconds() for lock in locks] == [60, 120, 240, 480, 900, 900]
    message = refusal(accounts, "dr.a", PASSWORD, at + timedelta(minutes=1), attempts=attempts)
    assert message == "Too many failed logins. Wait 14 minutes, then try again."


def test_an_unknown_username_is_throttled_like_an_account(accounts, attempts) -> None:
    times = [NOW + timedelta(seconds=s) for s in (0, 1, 2, 3, 4, 5, 33, 34, 35, 94, 95)]
    known = [refusal(accounts, "dr.a", "wrong horse battery", t, attempts=attempts) for t in times]
    unknown = [
        refusal(accounts, "ghost", "wrong horse battery", t, attempts=attempts) for t in times
    ]
    assert unknown == known
    assert known[:5] == [REFUSED] * 5
    assert known[5] == "Too many failed logins. Wait 29 seconds, then try again."
    assert known[6] == "Too many failed logins. Wait 1 second, then try again."
    assert known[7] == REFUSED
    assert known[8] == "Too many failed logins. Wait 59 seconds, then try again."
    assert known[9] == REFUSED
    assert known[10] == "Too many failed logins. Wait 119 seconds, then try again."


def test_a_real_and_an_unknown_username_take_the_same_path(accounts, monkeypatch) -> None:
    """Same checks of the hash (the stand-in for an unknown name), same counts, same answers."""
    checked: list[str] = []
    real_verify = auth.verify_password
    monkeypatch.setattr(
        auth, "verify_password", lambda h, p: checked.append(h) or real_verify(h, p)
    )
    seen = {}
    for username in ("dr.a", "ghost"):
        attempts = MemoryAttempts()
        answers = [
            refusal(accounts, username, "wrong horse battery", NOW, attempts=attempts)
            for _ in range(6)
        ]
        seen[username] = (answers, attempts.buckets[name_bucket(username)])
    assert seen["dr.a"] == seen["ghost"]
    assert len(checked) == 10  # five each; the sixth, locked, checks nothing
    assert checked[5:] == [auth._stand_in_hash()] * 5


def test_guessing_one_password_across_many_usernames_is_throttled_per_client(
    accounts, attempts
) -> None:
    client = "203.0.113.9"
    answers = [
        refusal(accounts, f"user.{n}", "Summer is here 2026", NOW, attempts=attempts, client=client)
        for n in range(CLIENT_POLICY.max_failures + 1)
    ]
    assert answers[:-1] == [REFUSED] * CLIENT_POLICY.max_failures
    assert answers[-1] == "Too many failed logins. Wait 60 seconds, then try again."
    # Locked for that client, even for the right password of an account never tried...
    message = refusal(accounts, "sup.b", PASSWORD, NOW, attempts=attempts, client=client)
    assert message.startswith("Too many failed logins.")
    # ...but not for another client.
    assert login(accounts, "sup.b", PASSWORD, NOW, attempts, client="203.0.113.10")


def test_clients_without_an_address_share_one_bucket(accounts, attempts) -> None:
    for n in range(UNKNOWN_CLIENTS_POLICY.max_failures):
        refusal(accounts, f"user.{n}", "Summer is here 2026", NOW, attempts=attempts)
    message = refusal(accounts, "sup.b", PASSWORD, NOW, attempts=attempts, client=None)
    assert message.startswith("Too many failed logins.")
    assert login(accounts, "sup.b", PASSWORD, NOW, attempts, client="203.0.113.10")


def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(
    accounts, attempts, monkeypatch: pytest.MonkeyPatch
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts.change("dr.a", password_hash=weaker.hash(PASSWORD))
    monkeypatch.setattr(auth, "_hasher", stronger)
    login(accounts, "dr.a", PASSWORD, NOW, attempts=attempts)
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
    with pytest.raises(ValueError, match="more than zero minutes"):
        idle_expired(NOW, NOW, 0)
