"""Accounts, roles, logins and supervision assignments on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, delete, inspect, select
from sqlalchemy.exc import DBAPIError

from tailoring.auth import NAME_POLICY, REFUSED, LoginRefused, authenticate
from tailoring.engine.throttle import name_bucket
from tailoring.storage.db import build_engine, migrate
from tailoring.storage.errors import UnknownUser, UsernameTaken
from tailoring.storage.tables import audit_log, cases, users
from tests.integration.helpers import make_case
from tests.integration.test_migrations import add_first_schema_case, move_to
from tests.store import Committing, Store

PASSWORD = "correct horse battery"
# A hash with cheap parameters: checking it is quick, and a login replaces it with a real one.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts(engine: Engine) -> Committing:
    return Store.on(engine).accounts


def test_an_account_is_added_and_read_back(accounts: Committing) -> None:
    added = accounts.add_user("dr.a", ["supervisor", "therapist"], "Dr Ä Smith", CHEAP_HASH)
    stored = accounts.get_user("dr.a")
    assert stored == added
    assert (stored.username, stored.display_name) == ("dr.a", "Dr Ä Smith")
    assert stored.roles == {"therapist", "supervisor"}
    assert (stored.password_hash, stored.disabled) == (CHEAP_HASH, False)
    assert stored.created_at.tzinfo is not None and stored.created_at == stored.updated_at
    assert CHEAP_HASH not in repr(stored)


def test_the_display_name_defaults_to_the_username_and_sso_has_no_password(
    accounts: Committing,
) -> None:
    user = accounts.add_user("tr.c", ["trainee"], "  ")
    assert (user.display_name, user.password_hash) == ("tr.c", None)


def test_a_username_is_taken_once(accounts: Committing) -> None:
    accounts.add_user("dr.a", ["therapist"])
    with pytest.raises(UsernameTaken, match="already an account called dr"):
        accounts.add_user("dr.a", ["admin"])


@pytest.mark.parametrize(
    "username", ["ab", "Dr.A", "dr a", "local user", "x" * 41, "dr.ä", "dr@a", ""]
)
def test_usernames_are_lower_case_codes(accounts: Committing, username: str) -> None:
    with pytest.raises(ValueError, match="3–40 lower-case"):
        accounts.add_user(username, ["therapist"])


@pytest.mark.parametrize(("roles", "message"), [([], "at least one"), (["boss"], "unknown role")])
def test_roles_are_known_and_at_least_one(
    accounts: Committing, roles: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        accounts.add_user("dr.a", roles)  # type: ignore[arg-type]
    accounts.add_user("dr.a", ["therapist"])
    with pytest.raises(ValueError, match=message):
        accounts.set_roles("dr.a", roles)  # type: ignore[arg-type]


def test_accounts_are_listed_by_username(accounts: Committing) -> None:
    for username in ("sup.b", "adm.z", "dr.a"):
        accounts.add_user(username, ["therapist"])
    accounts.disable("sup.b")
    assert [user.username for user in accounts.list_users()] == ["adm.z", "dr.a", "sup.b"]


def test_roles_state_and_password_change(accounts: Committing) -> None:
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


def test_every_change_to_an_unknown_account_says_so(accounts: Committing) -> None:
    changes = [
        lambda: accounts.get_user("nobody"),
        lambda: accounts.set_roles("nobody", ["therapist"]),
        lambda: accounts.disable("nobody"),
        lambda: accounts.enable("nobody"),
        lambda: accounts.set_password_hash("nobody", CHEAP_HASH),
        lambda: accounts.supervisees("nobody"),
    ]
    for change in changes:
        with pytest.raises(UnknownUser, match="no account called nobody"):
            change()


def test_a_new_password_lifts_the_lock_on_logins(accounts: Committing, engine: Engine) -> None:
    accounts.add_user("dr.a", ["therapist"], password_hash=CHEAP_HASH)
    attempts = Store.on(engine).sign_in_attempts
    now = datetime.now(UTC)
    for _ in range(NAME_POLICY.max_failures):
        attempts.fail(name_bucket("dr.a"), NAME_POLICY, now)
    assert accounts.login_locked_until("dr.a", now) == now + NAME_POLICY.first_lock
    accounts.set_password_hash("dr.a", CHEAP_HASH)
    assert accounts.login_locked_until("dr.a", now) is None
    assert attempts.failures(name_bucket("dr.a"), now) is None


def test_supervision_assignments(accounts: Committing) -> None:
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


def test_only_supervisors_supervise_and_never_themselves(accounts: Committing) -> None:
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


def test_a_login_on_the_database_throttles_and_audits(accounts: Committing, engine: Engine) -> None:
    accounts.add_user("sup.b", ["supervisor", "therapist"], "Sup B", CHEAP_HASH)
    accounts.add_user("dr.a", ["therapist"])
    accounts.assign_supervisor("sup.b", "dr.a")
    audit = Store.on(engine).audit
    attempts = Store.on(engine).sign_in_attempts

    def login(password: str, at: datetime = NOW):
        return authenticate(accounts, attempts, "sup.b", password, at, "203.0.113.9", audit)

    for _ in range(5):
        with pytest.raises(LoginRefused, match=REFUSED):
            login("wrong horse battery")
    assert accounts.login_locked_until("sup.b", NOW) == NOW + timedelta(seconds=30)
    with pytest.raises(LoginRefused, match="Wait 30 seconds"):
        login(PASSWORD)

    actor = login(PASSWORD, NOW + timedelta(seconds=30))

    assert (actor.username, actor.supervisees) == ("sup.b", {"dr.a"})
    assert attempts.failures(name_bucket("sup.b"), NOW) is None
    assert attempts.failures("login.client:203.0.113.9", NOW).count == 5
    stored = accounts.get_user("sup.b")
    assert stored.password_hash != CHEAP_HASH  # replaced by a hash with the app's parameters
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
    # Written as the code of that time wrote it: today's store knows later case columns.
    case_id = add_first_schema_case(bare_engine, "CASE-001")

    migrate(bare_engine)

    store = Store.on(bare_engine)
    kept = store.cases.get(case_id).case
    assert (kept.reference, kept.answers.alliance["bond"].value) == ("CASE-001", 2)
    accounts = Store.on(bare_engine).accounts
    assert accounts.list_users() == []
    accounts.add_user("dr.a", ["therapist"])
    entry = Store.on(bare_engine).audit.record("dr.a", "viewed", case_id, "CASE-001")
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.id == entry.id))


def test_downgrading_to_the_fourth_schema_drops_accounts_and_audit_only(
    bare_engine: Engine,
) -> None:
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case(therapist="dr.a"))
    Store.on(bare_engine).accounts.add_user("dr.a", ["therapist"])
    Store.on(bare_engine).audit.record("dr.a", "created", case_id, "CASE-001")

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
    entry = Store.on(bare_engine).audit.record("dr.a", "viewed", case_id, "CASE-001")
    with pytest.raises(DBAPIError, match="append-only"), bare_engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.id == entry.id))
