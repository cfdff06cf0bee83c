"""Patient link codes: randomness, typing, hashing, expiry, one refusal for all, throttling."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailoring.engine import patient_links
from tailoring.engine.patient_links import (
    ALPHABET,
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    REFUSED,
    LinkRefused,
    Throttle,
    TooManyAttempts,
    expiry,
    extended_expiry,
    format_code,
    new_code,
    normalise,
    resolve,
    token_hash,
)
from tailoring.model.patient import PatientLink

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
CODE_SHAPE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$")


def make_link(**changes: object) -> PatientLink:
    fields: dict[str, object] = {
        "id": 7,
        "case_id": 3,
        "set_id": "after_session",
        "session_number": 2,
        "created_by": "dr.a",
        "created_at": NOW,
        "expires_at": NOW + DEFAULT_LIFETIME,
    }
    return PatientLink.model_validate({**fields, **changes})


class Store:
    """Links by the hash of their code, as the repository's find_by_hash gives them."""

    def __init__(self) -> None:
        self.links: dict[str, PatientLink] = {}
        self.looked_up: list[str] = []

    def add(self, link: PatientLink) -> str:
        code = new_code()
        self.links[token_hash(code)] = link
        return code

    def find(self, hashed: str) -> PatientLink | None:
        self.looked_up.append(hashed)
        return self.links.get(hashed)


# Codes ------------------------------------------------------------------------------------------


def test_a_code_carries_136_random_bits_in_seven_groups() -> None:
    code = new_code()
    assert CODE_SHAPE.match(code), code
    plain = code.replace("-", "")
    assert len(plain) * 5 >= 136 >= 128
    # The last character carries one bit and four zero bits.
    assert ALPHABET.index(plain[-1]) % 16 == 0


def test_codes_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    drawn: list[int] = []

    def token_bytes(n: int) -> bytes:
        drawn.append(n)
        return bytes(range(n))

    monkeypatch.setattr(patient_links.secrets, "token_bytes", token_bytes)
    new_code()
    assert drawn == [17]


def test_the_code_encodes_the_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patient_links.secrets, "token_bytes", lambda n: b"\xff" * n)
    assert new_code() == "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZG"
    monkeypatch.setattr(patient_links.secrets, "token_bytes", lambda n: b"\x00" * n)
    assert new_code() == "0000-0000-0000-0000-0000-0000-0000"


def test_typing_is_forgiving() -> None:
    code = "A1B0-CDEF-GH1J-KMNP-QRST-VWXY-Z000"
    assert normalise(code) == "A1B0CDEFGH1JKMNPQRSTVWXYZ000"
    for typed in (
        "a1b0cdefgh1jkmnpqrstvwxyz000",
        "a1b0 cdef gh1j kmnp qrst vwxy z000",
        " A1BO-CDEF-GHIJ-KMNP-QRST-VWXY-ZOOO\n",
        "ALBO-cdef-ghlj-kmnp-qrst-vwxy-zooo",
    ):
        assert normalise(typed) == normalise(code)
        assert token_hash(typed) == token_hash(code)
    assert format_code("a1b0cdefgh1jkmnpqrstvwxyz000") == code


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "A1B0-CDEF",
        "A1B0-CDEF-GH1J-KMNP-QRST-VWXY-Z0000",
        "A1B0-CDEF-GH1J-KMNP-QRST-VWXY-Z00U",
        "A1B0-CDEF-GH1J-KMNP-QRST-VWXY-Z00!",
        "A1B0-CDEF-GH1J-KMNP-QRST-VWXY-Z00é",
    ],
)
def test_malformed_codes_are_refused_like_any_other(typed: str) -> None:
    with pytest.raises(LinkRefused, match=re.escape(REFUSED)):
        normalise(typed)


def test_only_a_hash_of_the_code_is_stored() -> None:
    code = new_code()
    hashed = token_hash(code)
    assert re.fullmatch(r"[0-9a-f]{64}", hashed)
    assert hashed == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    assert code.replace("-", "") not in hashed.upper()


@given(st.binary(min_size=17, max_size=17))
def test_every_code_reads_back_to_itself(raw: bytes) -> None:
    number = int.from_bytes(raw, "big") << 4
    plain = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(28)))
    assert normalise(format_code(plain)) == plain
    assert normalise(format_code(plain).lower().replace("-", " ")) == plain


# Expiry -----------------------------------------------------------------------------------------


def test_a_link_lasts_14_days_by_default() -> None:
    assert expiry(NOW) == NOW + timedelta(days=14)
    assert expiry(NOW, timedelta(days=3)) == NOW + timedelta(days=3)
    with pytest.raises(ValueError, match="1 hour to 42 days"):
        expiry(NOW, timedelta(days=60))
    with pytest.raises(ValueError, match="timezone-aware"):
        expiry(NOW.replace(tzinfo=None))


def test_extending_adds_to_the_expiry_or_to_now_once_expired() -> None:
    link = make_link(expires_at=NOW + timedelta(days=2))
    assert extended_expiry(link, NOW) == NOW + timedelta(days=16)
    expired = make_link(expires_at=NOW - timedelta(days=5))
    assert extended_expiry(expired, NOW, timedelta(days=7)) == NOW + timedelta(days=7)
    long = make_link(expires_at=NOW + timedelta(days=40))
    assert extended_expiry(long, NOW) == NOW + MAX_LIFETIME
    with pytest.raises(ValueError, match="revoked"):
        extended_expiry(make_link(revoked_at=NOW), NOW)


def test_status_of_a_link() -> None:
    link = make_link()
    assert link.status(NOW) == "open" and link.accepts_answers(NOW) and link.usable(NOW)
    at_expiry = NOW + DEFAULT_LIFETIME
    assert link.status(at_expiry) == "expired" and not link.usable(at_expiry)
    done = make_link(completed_at=NOW)
    assert done.status(NOW) == "completed" and done.usable(NOW)
    assert not done.accepts_answers(NOW)
    assert done.status(at_expiry) == "completed" and not done.usable(at_expiry)
    revoked = make_link(revoked_at=NOW, completed_at=NOW)
    assert revoked.status(NOW) == "revoked" and not revoked.usable(NOW)
    assert done.returned_unseen()
    assert not make_link(completed_at=NOW, seen_at=NOW + timedelta(minutes=1)).returned_unseen()
    assert make_link(completed_at=NOW, seen_at=NOW - timedelta(minutes=1)).returned_unseen()


# Resolving: one refusal for every way a code can fail ---------------------------------------------


def test_a_valid_code_opens_its_link_scoped_to_one_case_and_set() -> None:
    store = Store()
    code = store.add(make_link())
    other = store.add(make_link(id=8, case_id=4, set_id="preferences", session_number=None))
    link = resolve(code, NOW, store.find)
    assert (link.id, link.case_id, link.set_id, link.session_number) == (7, 3, "after_session", 2)
    assert resolve(other.lower(), NOW, store.find).case_id == 4
    # The store is asked by hash only: the code never reaches it.
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in store.looked_up)


def test_expired_revoked_unknown_and_wrong_codes_get_the_same_refusal() -> None:
    store = Store()
    expired = store.add(make_link(expires_at=NOW))
    revoked = store.add(make_link(revoked_at=NOW - timedelta(hours=1)))
    completed_then_expired = store.add(make_link(completed_at=NOW, expires_at=NOW))
    messages = set()
    for code in (expired, revoked, completed_then_expired, new_code(), "HELLO", "", "ABCD-" * 7):
        with pytest.raises(LinkRefused) as refused:
            resolve(code, NOW, store.find)
        messages.add(str(refused.value))
    assert messages == {"This link or code does not work. Ask your therapist for a new one."}


def test_a_completed_link_still_opens_to_say_thank_you() -> None:
    store = Store()
    code = store.add(make_link(completed_at=NOW))
    link = resolve(code, NOW + timedelta(days=1), store.find)
    assert link.status(NOW + timedelta(days=1)) == "completed"


# Throttling -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def test_five_wrong_codes_in_ten_minutes_lock_the_client_out() -> None:
    clock, store = Clock(), Store()
    good = store.add(make_link())
    throttle = Throttle(clock)
    for _ in range(4):
        with pytest.raises(LinkRefused):
            throttle.attempt("10.0.0.1", new_code(), store.find)
        clock.wait(minutes=1)
    with pytest.raises(TooManyAttempts, match="wait 15 minutes") as locked:
        throttle.attempt("10.0.0.1", "WRONG", store.find)
    assert locked.value.until == clock.now + timedelta(minutes=15)
    # Locked out: even the right code is refused, and the store is not asked.
    asked = len(store.looked_up)
    clock.wait(minutes=5)
    with pytest.raises(TooManyAttempts, match="wait 10 minutes"):
        throttle.attempt("10.0.0.1", good, store.find)
    assert len(store.looked_up) == asked
    # Another client is not affected.
    assert throttle.attempt("10.0.0.2", good, store.find).id == 7
    clock.wait(minutes=10)
    assert throttle.attempt("10.0.0.1", good, store.find).id == 7


def test_wrong_codes_spread_out_are_not_throttled() -> None:
    clock, store = Clock(), Store()
    throttle = Throttle(clock)
    for _ in range(20):
        with pytest.raises(LinkRefused):
            throttle.attempt("phone", new_code(), store.find)
        clock.wait(minutes=3)


def test_a_right_code_does_not_wipe_the_count() -> None:
    clock, store = Clock(), Store()
    good = store.add(make_link())
    throttle = Throttle(clock, max_failures=3)
    for _ in range(2):
        with pytest.raises(LinkRefused):
            throttle.attempt("k", new_code(), store.find)
        throttle.attempt("k", good, store.find)
    with pytest.raises(TooManyAttempts):
        throttle.attempt("k", new_code(), store.find)


def test_check_and_failure_can_be_used_apart() -> None:
    clock = Clock()
    throttle = Throttle(clock, max_failures=2, lockout=timedelta(seconds=30))
    throttle.check("s")
    throttle.failure("s")
    with pytest.raises(TooManyAttempts, match="wait 1 minute and"):
        throttle.failure("s")
    with pytest.raises(TooManyAttempts):
        throttle.check("s")
    clock.wait(seconds=30)
    throttle.check("s")


def test_memory_stays_bounded() -> None:
    clock = Clock()
    throttle = Throttle(clock, max_failures=2, max_clients=100)
    for n in range(1000):
        throttle.failure(f"client-{n}")
    assert len(throttle._clients) == 100
    with pytest.raises(TooManyAttempts):
        throttle.failure("client-999")
    with pytest.raises(ValueError):
        Throttle(clock, max_failures=0)
