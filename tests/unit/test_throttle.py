"""Throttling rules: counts within a window, locks that double, buckets of client addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailoring.auth import CLIENT_POLICY, NAME_POLICY, UNKNOWN_CLIENTS_POLICY, login_client_bucket
from tailoring.engine.throttle import (
    UNKNOWN_CLIENT,
    Failures,
    Policy,
    after_failure,
    client_bucket,
    forget_at,
    lock_time,
)

NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def fail_times(policy: Policy, *seconds: float) -> Failures:
    counted = None
    for second in seconds:
        counted = after_failure(counted, policy, NOW + timedelta(seconds=second))
    assert counted is not None
    return counted


def test_lock_times_start_at_30_seconds_double_and_stop_at_15_minutes() -> None:
    assert [lock_time(NAME_POLICY, n).total_seconds() for n in range(1, 11)] == [
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
    ]
    assert lock_time(NAME_POLICY, 1000) == timedelta(minutes=15)


def test_the_failure_that_reaches_the_limit_locks_and_each_further_one_doubles() -> None:
    counted = fail_times(NAME_POLICY, 0, 1, 2, 3, 4)
    assert (counted.count, counted.locked_until) == (5, NOW + timedelta(seconds=34))
    assert counted.lock_at(NOW + timedelta(seconds=33)) == NOW + timedelta(seconds=34)
    assert counted.lock_at(NOW + timedelta(seconds=34)) is None
    later = after_failure(counted, NAME_POLICY, NOW + timedelta(seconds=40))
    assert later.locked_until == NOW + timedelta(seconds=100)


def test_a_window_gone_by_starts_the_count_again() -> None:
    counted = fail_times(CLIENT_POLICY, *range(19))
    assert counted.count == 19
    fresh = after_failure(counted, CLIENT_POLICY, NOW + CLIENT_POLICY.window)
    assert (fresh.count, fresh.window_start, fresh.locked_until) == (
        1,
        NOW + CLIENT_POLICY.window,
        None,
    )


def test_a_lock_in_force_is_kept_when_the_window_starts_again() -> None:
    policy = Policy(2, timedelta(hours=2), timedelta(hours=2), window=timedelta(minutes=1))
    locked = fail_times(policy, 0, 1)
    again = after_failure(locked, policy, NOW + timedelta(minutes=5))
    assert (again.count, again.locked_until) == (1, NOW + timedelta(hours=2, seconds=1))


def test_a_bucket_is_forgotten_when_its_window_and_its_lock_are_over() -> None:
    one = fail_times(NAME_POLICY, 0)
    assert forget_at(one, NAME_POLICY) == NOW + timedelta(days=1)
    policy = Policy(1, timedelta(days=3), timedelta(days=3), window=timedelta(days=1))
    assert forget_at(fail_times(policy, 0), policy) == NOW + timedelta(days=3)


def test_a_policy_allows_a_failure_and_its_locks_only_grow() -> None:
    with pytest.raises(ValueError):
        Policy(0, timedelta(1), timedelta(1), timedelta(1))
    with pytest.raises(ValueError):
        Policy(1, timedelta(2), timedelta(1), timedelta(1))


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, UNKNOWN_CLIENT),
        ("", UNKNOWN_CLIENT),
        ("not an address", UNKNOWN_CLIENT),
    ],
)
def test_client_buckets(address: str | None, bucket: str) -> None:
    assert client_bucket(address) == bucket


def test_clients_without_an_address_share_a_looser_bucket_at_the_sign_in_form() -> None:
    assert login_client_bucket("203.0.113.9") == ("login.client:203.0.113.9", CLIENT_POLICY)
    assert login_client_bucket(None) == ("login.client:unknown", UNKNOWN_CLIENTS_POLICY)
    assert UNKNOWN_CLIENTS_POLICY.max_failures > CLIENT_POLICY.max_failures > 5
