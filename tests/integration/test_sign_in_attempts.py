"""Failed sign-ins and wrong codes counted in the database: kept across restarts, never the
names typed, each failure counted under load, old rows deleted."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, inspect, select

from tailoring.auth import CLIENT_POLICY, NAME_POLICY
from tailoring.engine.throttle import Policy, name_bucket
from tailoring.storage.db import build_engine, make_engine, migrate
from tailoring.storage.tables import sign_in_attempts, users
from tests.integration.test_migrations import move_to
from tests.store import Committing, Store

NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def attempts(engine: Engine) -> Committing:
    return Store.on(engine).sign_in_attempts


def rows(engine: Engine) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(sign_in_attempts))]


def test_a_lock_survives_a_restart(attempts: Committing, database_url: str) -> None:
    for second in range(5):
        attempts.fail(name_bucket("ghost"), NAME_POLICY, NOW + timedelta(seconds=second))
    until = NOW + timedelta(seconds=34)
    restarted = make_engine(database_url)  # another process, or the app after a restart
    try:
        again = Store.on(restarted).sign_in_attempts
        assert again.locked_until([name_bucket("ghost")], NOW + timedelta(seconds=5)) == until
        assert again.failures(name_bucket("ghost"), NOW).count == 5
    finally:
        restarted.dispose()


def test_the_latest_lock_of_several_buckets_counts(attempts: Committing) -> None:
    short = Policy(1, timedelta(minutes=1), timedelta(minutes=1), timedelta(minutes=5))
    long = Policy(1, timedelta(minutes=9), timedelta(minutes=9), timedelta(minutes=5))
    attempts.fail("a", short, NOW)
    attempts.fail("b", long, NOW)
    assert attempts.locked_until(["a", "b", "c"], NOW) == NOW + timedelta(minutes=9)
    assert attempts.locked_until(["a"], NOW) == NOW + timedelta(minutes=1)
    assert attempts.locked_until(["c"], NOW) is None
    assert attempts.locked_until(["a", "b"], NOW + timedelta(minutes=9)) is None


def test_only_a_hash_of_what_was_typed_is_stored(attempts: Committing, engine: Engine) -> None:
    attempts.fail(name_bucket("my secret password"), NAME_POLICY, NOW)
    [row] = rows(engine)
    assert "secret" not in str(row) and len(row["key_hash"]) == 64


def test_failures_at_the_same_moment_are_all_counted(engine: Engine) -> None:
    policy = Policy(1000, timedelta(seconds=1), timedelta(seconds=1), timedelta(hours=1))

    def fail_five(_: int) -> None:
        store = Store.on(engine).sign_in_attempts
        for _ in range(5):
            store.fail("login.client:203.0.113.9", policy, NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fail_five, range(8)))
    assert Store.on(engine).sign_in_attempts.failures("login.client:203.0.113.9", NOW).count == 40


def test_rows_are_deleted_once_their_window_and_lock_are_over(
    attempts: Committing, engine: Engine
) -> None:
    attempts.fail("login.client:203.0.113.1", CLIENT_POLICY, NOW)
    for _ in range(5):
        attempts.fail(name_bucket("dr.a"), NAME_POLICY, NOW)
    after_window = NOW + CLIENT_POLICY.window
    attempts.fail("login.client:203.0.113.2", CLIENT_POLICY, after_window)
    assert len(rows(engine)) == 2  # the first client's row went; the name's day is not over
    assert attempts.failures("login.client:203.0.113.1", after_window) is None
    attempts.fail("login.client:203.0.113.3", CLIENT_POLICY, NOW + timedelta(days=1))
    assert len(rows(engine)) == 1


def test_forgetting_a_bucket_lifts_its_lock(attempts: Committing) -> None:
    for _ in range(5):
        attempts.fail(name_bucket("dr.a"), NAME_POLICY, NOW)
    attempts.forget(name_bucket("dr.a"))
    assert attempts.locked_until([name_bucket("dr.a")], NOW) is None


# The migration ---------------------------------------------------------------------------------


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_revision_0011_moves_the_counts_out_of_the_accounts_and_back(bare_engine: Engine) -> None:
    move_to(bare_engine, "0009")
    with bare_engine.begin() as connection:
        connection.execute(
            users.insert().values(
                username="dr.a",
                display_name="Dr A",
                roles="therapist",
                disabled=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    migrate(bare_engine)
    columns = {c["name"] for c in inspect(bare_engine).get_columns("users")}
    assert not columns & {"failed_logins", "locked_until"}
    assert Store.on(bare_engine).accounts.get_user("dr.a").display_name == "Dr A"
    Store.on(bare_engine).sign_in_attempts.fail(name_bucket("dr.a"), NAME_POLICY, NOW)

    move_to(bare_engine, "0010", down=True)

    assert "sign_in_attempts" not in inspect(bare_engine).get_table_names()
    columns = {c["name"] for c in inspect(bare_engine).get_columns("users")}
    assert {"failed_logins", "locked_until"} <= columns
    with bare_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(users)).scalar() == 1
