"""Patient questionnaire links: codes made from 136 random bits, typeable, kept only as hashes,
with expiry and throttling of wrong codes; and the sessions a new link's questionnaires are about.

- A code is ``secrets.token_bytes(17)`` written in Crockford's base32 (digits and capitals without
  I, L, O and U), 28 characters in seven groups of four: ``7K2M-QX9D-…``. Reading it back ignores
  case, dashes and spaces and takes I and L for 1 and O for 0, so a code read aloud or copied by
  hand still works.
- Storage keeps only the SHA-256 hash of the code. With 136 random bits a hash needs no salt: no
  table of guesses can cover the space, and the hash lets a code be found with one indexed look-up.
- A link works until it expires (14 days by default) or is revoked. An expired, revoked, unknown
  or mistyped code gets the same refusal, so a refusal says nothing about which codes exist.
- Repeated wrong codes from one client lock it out for a while (:func:`code_client_bucket`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from tailoring.engine.throttle import UNKNOWN_CLIENT, Policy, client_bucket
from tailoring.model.patient_content import SetId
from tailoring.model.patient_questionnaires import PatientLink

CODE_BYTES = 17  # 136 bits: at least 128 random bits, as the issue asks
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = -(-CODE_BYTES * 8 // 5)  # 28 characters carry the 136 bits (and 4 zero bits)
GROUP = 4
# Letters people type for digits they read: Crockford's decoding rules.
LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
IGNORED = str.maketrans("", "", "- \t\r\n")

# Long enough to answer between two weekly sessions with a reminder; short enough that a link
# lying in an inbox stops working.
DEFAULT_LIFETIME = timedelta(days=14)
# A link can be extended, but never to more than this from now: an old link is a risk.
MAX_LIFETIME = timedelta(days=42)
MIN_LIFETIME = timedelta(hours=1)

REFUSED = "This link or code does not work. Ask your therapist for a new one."


class LinkRefused(Exception):
    """A code that opens no link: unknown, mistyped, expired or revoked (never says which)."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class TooManyAttempts(Exception):
    """Too many wrong codes from one client: every attempt is refused until ``until``."""

    def __init__(self, until: datetime, now: datetime) -> None:
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        super().__init__(
            f"Too many codes did not work. Please wait {minutes} minute"
            f"{'' if minutes == 1 else 's'} and try again, "
            "or ask your therapist for a new link."
        )
        self.until = until


def new_code() -> str:
    """A fresh code of 136 random bits, in groups: show it once, store only its hash."""
    number = int.from_bytes(secrets.token_bytes(CODE_BYTES), "big")
    number <<= CODE_LENGTH * 5 - CODE_BYTES * 8
    chars = [ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH))]
    return format_code("".join(chars))


def normalise(code: str) -> str:
    """The code as issued, without groups, from what a person typed (else LinkRefused)."""
    if not isinstance(code, str):
        raise LinkRefused()
    plain = code.upper().translate(IGNORED).translate(LOOKALIKES)
    if len(plain) != CODE_LENGTH or any(c not in ALPHABET for c in plain):
        raise LinkRefused()
    return plain


def format_code(code: str) -> str:
    """A code in dash-separated groups of four, as people read and type it."""
    plain = normalise(code)
    return "-".join(plain[i : i + GROUP] for i in range(0, len(plain), GROUP))


def token_hash(code: str) -> str:
    """The SHA-256 hash (hex) stored for a code (LinkRefused if the code is malformed)."""
    return hashlib.sha256(normalise(code).encode("ascii")).hexdigest()


def expiry(now: datetime, lifetime: timedelta = DEFAULT_LIFETIME) -> datetime:
    """When a link made at ``now`` stops working (ValueError outside 1 hour to 42 days)."""
    _check_lifetime(lifetime)
    return _aware(now) + lifetime


def extended_expiry(link: PatientLink, now: datetime, by: timedelta = DEFAULT_LIFETIME) -> datetime:
    """The new expiry of ``link`` extended by ``by`` from its expiry, or from now if it has expired.

    Never beyond 42 days from now. ValueError for a revoked link, which stays revoked: make a
    new link instead.
    """
    _check_lifetime(by)
    if link.revoked_at is not None:
        raise ValueError("a revoked link cannot be extended; create a new link instead")
    now = _aware(now)
    return min(max(link.expires_at, now) + by, now + MAX_LIFETIME)


def resolve(code: str, now: datetime, find: Callable[[str], PatientLink | None]) -> PatientLink:
    """The link a code opens, or LinkRefused; ``find`` looks a link up by the hash of its code.

    A completed link still opens until it expires (the patient sees the thank-you); whether it
    takes answers is :meth:`PatientLink.accepts_answers`.
    """
    link = find(token_hash(code))
    if link is None or not link.usable(_aware(now)):
        raise LinkRefused()
    return link


def _check_lifetime(lifetime: timedelta) -> None:
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ValueError("a link lasts from 1 hour to 42 days")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment


def utc_now() -> datetime:
    return datetime.now(UTC)


# Throttling -----------------------------------------------------------------------------------
#
# A wrong code names no link (the code is all that names one), so wrong codes are counted per
# client address, in the database (tailoring/storage/throttle.py), never per browser session,
# which a reload renews. Five wrong codes in ten minutes is more than a person mistyping makes,
# and far fewer than any guessing needs; a quarter of an hour's pause costs a patient little.
CLIENT_POLICY = Policy(
    max_failures=5,
    first_lock=timedelta(minutes=15),
    longest_lock=timedelta(minutes=15),
    window=timedelta(minutes=10),
)
# Every client whose address is not known (behind a proxy that does not say) shares one bucket,
# so guessing is still throttled; one patient's typing mistakes should not lock out the rest.
UNKNOWN_CLIENTS_POLICY = Policy(
    max_failures=50,
    first_lock=timedelta(minutes=15),
    longest_lock=timedelta(minutes=15),
    window=timedelta(minutes=10),
)


def code_client_bucket(address: str | None) -> tuple[str, Policy]:
    """The bucket that a patient's wrong codes count in, from their address, and its policy."""
    client = client_bucket(address)
    policy = UNKNOWN_CLIENTS_POLICY if client == UNKNOWN_CLIENT else CLIENT_POLICY
    return "code.client:" + client, policy


# The sessions a link is about ------------------------------------------------------------------


def suggested_sessions(recorded: Iterable[int]) -> dict[SetId, int]:
    """The session each questionnaire about a session is first offered for, from the numbers of
    the sessions recorded so far.

    Before a session: the next one not yet recorded, the one after the last recorded (a gap left
    by a session not written up yet is in the past, not the visit coming). After a session: the
    last one recorded. With none recorded, both are about session 1.
    """
    last = max(recorded, default=0)
    return {"before_session": last + 1, "after_session": max(last, 1)}
