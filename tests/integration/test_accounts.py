"""Accounts, roles, login counters and supervision assignments on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, delete, inspect, select
from sqlalchemy.exc import DBAPIError

from tailoring.auth import REFUSED, LoginRefused, LoginThrottle, authenticate
from tailoring.storage.accounts import AccountRepository
from tailoring.storage.audit import AuditLog
from tailoring.storage.db import build_engine, make_engine, migrate
from tailoring.storage.errors import UnknownUser, UsernameTaken
from tailoring.storage.repository import CaseRepository
from tailoring.storage.tables import audit_log, cases, users
from tests.integration.helpers import make_case
from tests.integration.test_migrations import add_first_schema_case, move_to

PASSWORD = "correct horse battery"
# A hash with cheap parameters: checking it is quick, and a login replaces it with a real one.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts(engine: Engine) -> AccountRepository:
    return AccountRepository(engine)


def test_an_account_is_added_and_read_back(accounts: AccountRepository) -> None:
    added = accounts.add_user("dr.a", ["supervisor", "therapist"], "Dr Ä Smith", CHEAP_HASH)
    stored = accounts.get_user("dr.a")
    assert stored == added
    assert (stored.username, stored.display_name) == ("dr.a", "Dr Ä Smith")
    assert stored.roles == {"therapist", "supervisor"}
    assert (stored.password_hash, stored.disabled, stored.failed_logins) == (CHEAP_HASH, False, 0)
    assert stored.locked_until is None
    assert stored.created_at.tzinfo is not None and stored.created_at == stored.updated_at
    assert CHEAP_HASH not in repr(stored)


def test_the_display_name_defaults_to_the_username_and_sso_has_no_password(
    accounts: AccountRepository,
) -> None:
    user = accounts.add_user("tr.c", ["trainee"], "  ")
    assert (user.display_name, user.password_hash) == ("tr.c", None)


def test_a_username_is_taken_once(accounts: AccountRepository) -> None:
    accounts.add_user("dr.a", ["therapist"])
    with pytest.raises(UsernameTaken, match="already an account called dr"):
        accounts.add_user("dr.a", ["admin"])


@pytest.mark.parametrize(
    "username", ["ab", "Dr.A", "dr a", "local user", "x" * 41, "dr.ä", "dr@a", ""]
)
def test_usernames_are_lower_case_codes(accounts: AccountRepository, username: str) -> None:
    with pytest.raises(ValueError, match="3–40 lower-case"):
        accounts.add_user(username, ["therapist"])


@pytest.mark.parametrize(("roles", "message"), [([], "at least one"), (["boss"], "unknown role")])
def test_roles_are_known_and_at_least_one(
    accounts: AccountRepository, roles: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        accounts.add_user("dr.a", roles)  # type: ignore[arg-type]
    accounts.add_user("dr.a", ["therapist"])
    with pytest.raises(ValueError, match=message):
        accounts.set_roles("dr.a", roles)  # type: ignore[arg-type]


def test_accounts_are_listed_by_username(accounts: AccountRepository) -> None:
    for username in ("sup.b", "adm.z", "dr.a"):
        accounts.add_user(username, ["therapist"])
    accounts.disable("sup.b")
    assert [user.username for user in accounts.list_users()] == ["adm.z", "dr.a", "sup.b"]


def test_roles_state_and_password_change(accounts: AccountRepository) -> None:
    created = accounts.add_user("dr.a", ["therapist"], password_hash=CHEAP_HASH)
    accounts.set_roles("dr.a", ["admin", "therapist"])
    accounts.disable("dr.a")
    changed = accounts.get_user("dr.a")
    assert (changed.roles, changed.disabled) == ({"admin", "therapist"}, True)
    assert changed.updated_at >= created.updated_at
    accounts.enable("dr.a")
    accounts.set_password_hash("dr.a", None)
    assert (accounts.get_user("dr.a").disabled, accounts.get_user("dr.a").password_hash) == (
        False,
        None,
    )


def test_every_change_to_an_unknown_account_says_so(accounts: AccountRepository) -> None:
    changes = [
        lambda: accounts.get_user("nobody"),
        lambda: accounts.set_roles("nobody", ["therapist"]),
        lambda: accounts.disable("nobody"),
        lambda: accounts.enable("nobody"),
        lambda: accounts.set_password_hash("nobody", CHEAP_HASH),
        lambda: accounts.record_failed_login("nobody"),
        lambda: accounts.lock_until("nobody", NOW),
        lambda: accounts.reset_failed_logins("nobody"),
        lambda: accounts.supervisees("nobody"),
    ]
    for change in changes:
        with pytest.raises(UnknownUser, match="no account called nobody"):
            change()


def test_login_counters_and_locks_are_kept(accounts: AccountRepository, database_url: str) -> None:
    accounts.add_user("dr.a", ["therapist"], password_hash=CHEAP_HASH)
    assert [accounts.record_failed_login("dr.a") for _ in range(3)] == [1, 2, 3]
    accounts.lock_until("dr.a", NOW)
    elsewhere = make_engine(database_url)
    try:
        seen = AccountRepository(elsewhere).get_user("dr.a")
        assert (seen.failed_logins, seen.locked_until) == (3, NOW)
        accounts.reset_failed_logins("dr.a")
        seen = AccountRepository(elsewhere).get_user("dr.a")
        assert (seen.failed_logins, seen.locked_until) == (0, None)
    finally:
        elsewhere.dispose()
    accounts.record_failed_login("dr.a")
    accounts.lock_until("dr.a", NOW)
    accounts.set_password_hash("dr.a", CHEAP_HASH)
    assert (accounts.get_user("dr.a").failed_logins, accounts.get_user("dr.a").locked_until) == (
        0,
        None,
    )


def test_supervision_assignments(accounts: AccountRepository) -> None:
    accounts.add_user("sup.b", ["supervisor"])
    for username in ("tr.c", "dr.a", "dr.z"):
        accounts.add_user(username, ["therapist"])
    assert accounts.assign_supervisor("sup.b", "tr.c")
    assert accounts.assign_supervisor("sup.b", "dr.a")
    assert not accounts.assign_supervisor("sup.b", "dr.a")
    assert accounts.supervisees("sup.b") == ["dr.a", "tr.c"]
    assert accounts.supervisees("dr.a") == []
    assert accounts.unassign_supervisor("sup.b", "dr.a")
    assert not accounts.unassign_supervisor("sup.b", "dr.a")
    assert accounts.supervisees("sup.b") == ["tr.c"]


def test_only_supervisors_supervise_and_never_themselves(accounts: AccountRepository) -> None:
    accounts.add_user("sup.b", ["supervisor"])
    accounts.add_user("dr.a", ["therapist"])
    with pytest.raises(ValueError, match="does not have the supervisor role"):
        accounts.assign_supervisor("dr.a", "sup.b")
    with pytest.raises(ValueError, match="cannot supervise themselves"):
        accounts.assign_supervisor("sup.b", "sup.b")
    with pytest.raises(UnknownUser):
        accounts.assign_supervisor("sup.b", "nobody")
    with pytest.raises(UnknownUser):
        accounts.unassign_supervisor("nobody", "dr.a")


def test_a_login_on_the_database_throttles_and_audits(
    accounts: AccountRepository, engine: Engine
) -> None:
    accounts.add_user("sup.b", ["supervisor", "therapist"], "Sup B", CHEAP_HASH)
    accounts.add_user("dr.a", ["therapist"])
    accounts.assign_supervisor("sup.b", "dr.a")
    audit = AuditLog(engine)
    throttle = LoginThrottle()
    for _ in range(5):
        with pytest.raises(LoginRefused, match=REFUSED):
            authenticate(accounts, "sup.b", "wrong horse battery", NOW, audit, throttle)
    stored = accounts.get_user("sup.b")
    assert (stored.failed_logins, stored.locked_until) == (5, NOW + timedelta(seconds=30))
    with pytest.raises(LoginRefused, match="Wait 30 seconds"):
        authenticate(accounts, "sup.b", PASSWORD, NOW, audit, throttle)

    actor = authenticate(accounts, "sup.b", PASSWORD, NOW + timedelta(seconds=30), audit, throttle)

    assert (actor.username, actor.supervisees) == ("sup.b", {"dr.a"})
    stored = accounts.get_user("sup.b")
    assert (stored.failed_logins, stored.locked_until) == (0, None)
    assert stored.password_hash != CHEAP_HASH  # replaced by a hash with the real parameters
    assert [(e.actor, e.action, e.detail) for e in audit.entries()] == [
        ("sup.b", "login", "password"),
        ("sup.b", "login_failed", "locked"),
        *[("sup.b", "login_failed", "wrong password")] * 5,
    ]


# The migration ---------------------------------------------------------------------------------


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's database that leaves the schema alone."""
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_upgrading_from_the_fourth_schema_keeps_cases_and_adds_accounts(
    bare_engine: Engine,
) -> None:
    move_to(bare_engine, "0004")
    # Written as the code of that time wrote it: today's repository knows later case columns.
    case_id = add_first_schema_case(bare_engine, "CASE-001")

    migrate(bare_engine)

    repository = CaseRepository(bare_engine)
    kept = repository.get(case_id).case
    assert (kept.reference, kept.answers.alliance["bond"].value) == ("CASE-001", 2)
    accounts = AccountRepository(bare_engine)
    assert accounts.list_users() == []
    accounts.add_user("dr.a", ["therapist"])
    entry = AuditLog(bare_engine).record("dr.a", "viewed", case_id, "CASE-001")
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.id == entry.id))


def test_downgrading_to_the_fourth_schema_drops_accounts_and_audit_only(
    bare_engine: Engine,
) -> None:
    migrate(bare_engine)
    repository = CaseRepository(bare_engine)
    case_id = repository.create(make_case(therapist="dr.a"))
    AccountRepository(bare_engine).add_user("dr.a", ["therapist"])
    AuditLog(bare_engine).record("dr.a", "created", case_id, "CASE-001")

    move_to(bare_engine, "0004", down=True)

    tables = set(inspect(bare_engine).get_table_names())
    assert not tables & {"users", "supervision_assignments", "audit_log"}
    with bare_engine.connect() as connection:
        kept = connection.execute(select(cases.c.reference, cases.c.therapist)).one()
    assert tuple(kept) == ("CASE-001", "dr.a")
    # Upgrading again recreates everything, the audit log's protection included.
    migrate(bare_engine)
    with bare_engine.connect() as connection:
        assert connection.execute(select(users)).all() == []
        assert connection.execute(select(audit_log)).all() == []
    entry = AuditLog(bare_engine).record("dr.a", "viewed", case_id, "CASE-001")
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.id == entry.id))
