"""Throttling of repeated failures (wrong passwords, wrong patient codes), as pure rules.

A bucket counts the failures of one thing (a username, a client address, all clients whose
address is not known) within a window that starts at its first failure. The failure that brings
the count to ``max_failures`` locks the bucket for ``first_lock``; each further failure within the
window doubles the lock, up to ``longest_lock``. While locked, every attempt is refused, right or
wrong, without being checked. Where the counts are kept is storage's business
(tailoring/storage/throttle.py); these functions only say what a failure does to a count.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

# A client whose address is unknown (the app behind a proxy on the same host that does not say
# who its clients are) shares one bucket with every other such client, so guessing is still
# throttled, more loosely than one client is.
UNKNOWN_CLIENT = "unknown"
# An IPv6 client usually holds a whole /64 network: counted per address, it could step to a fresh
# address for each guess.
IPV6_NETWORK = 64


@dataclass(frozen=True)
class Policy:
    """How many failures a bucket allows within ``window``, and how long it is locked after."""

    max_failures: int
    first_lock: timedelta
    longest_lock: timedelta
    window: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.first_lock > self.longest_lock:
            raise ValueError("a policy allows at least one failure and its locks only grow")


@dataclass(frozen=True)
class Failures:
    """The failures counted in one bucket: how many since ``window_start``, and any lock."""

    count: int
    window_start: datetime
    locked_until: datetime | None = None

    def lock_at(self, now: datetime) -> datetime | None:
        """When the lock ends, or None if the bucket is not locked at ``now``."""
        until = self.locked_until
        return until if until is not None and until > now else None


def lock_time(policy: Policy, count: int) -> timedelta:
    """How long ``count`` failures within the window lock a bucket (zero: not locked)."""
    if count < policy.max_failures:
        return timedelta(0)
    doublings = min(count - policy.max_failures, 32)
    return min(policy.first_lock * (1 << doublings), policy.longest_lock)


def after_failure(before: Failures | None, policy: Policy, now: datetime) -> Failures:
    """The bucket once one more failure is counted at ``now``; a window gone by starts anew."""
    if before is None or now - before.window_start >= policy.window:
        count, start = 1, now
    else:
        count, start = before.count + 1, before.window_start
    wait = lock_time(policy, count)
    lock = now + wait if wait else (before.lock_at(now) if before is not None else None)
    return Failures(count, start, lock)


def forget_at(failures: Failures, policy: Policy) -> datetime:
    """When a bucket no longer matters (its window and its lock are over), so it can be deleted."""
    end = failures.window_start + policy.window
    lock = failures.locked_until
    return max(end, lock) if lock is not None else end


def name_bucket(username: str) -> str:
    """The throttle bucket of a username as typed at the sign-in form (trimmed, lower case)."""
    return "login.name:" + username


def client_bucket(address: str | None) -> str:
    """The bucket of a client address: itself, its /64 network for IPv6, or the shared bucket
    of clients whose address is not known (None, empty, or not an address)."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_NETWORK}", strict=False))
    return str(parsed)
