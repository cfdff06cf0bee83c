"""Patient link codes: randomness, typing, hashing, expiry, one refusal for all, throttling."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tailoring.engine import patient_questionnaires
from tailoring.engine.patient_questionnaires import (
    ALPHABET,
    CLIENT_POLICY,
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    REFUSED,
    UNKNOWN_CLIENTS_POLICY,
    LinkRefused,
    TooManyAttempts,
    code_client_bucket,
    expiry,
    extended_expiry,
    format_code,
    new_code,
    normalise,
    resolve,
    suggested_sessions,
    token_hash,
)
from tailoring.engine.throttle import after_failure
from tailoring.model.patient_questionnaires import LinkQuestionnaire, PatientLink

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
CODE_SHAPE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$")


def make_link(**changes: object) -> PatientLink:
    fields: dict[str, object] = {
        "id": 7,
        "case_id": 3,
        "questionnaires": [{"set_id": "after_session", "session_number": 2}],
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

    monkeypatch.setattr(patient_questionnaires.secrets, "token_bytes", token_bytes)
    new_code()
    assert drawn == [17]


def test_the_code_encodes_the_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patient_questionnaires.secrets, "token_bytes", lambda n: b"\xff" * n)
    assert new_code() == "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZG"
    monkeypatch.setattr(patient_questionnaires.secrets, "token_bytes", lambda n: b"\x00" * n)
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
    other = store.add(make_link(id=8, case_id=4, questionnaires=[{"set_id": "preferences"}]))
    link = resolve(code, NOW, store.find)
    assert (link.id, link.case_id) == (7, 3)
    assert link.questionnaire("after_session") == LinkQuestionnaire(
        set_id="after_session", session_number=2
    )
    assert link.questionnaire("preferences") is None
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


def test_wrong_codes_count_per_client_address_or_in_one_bucket_for_unknown_ones() -> None:
    assert code_client_bucket("203.0.113.9") == ("code.client:203.0.113.9", CLIENT_POLICY)
    assert code_client_bucket(None) == ("code.client:unknown", UNKNOWN_CLIENTS_POLICY)
    assert code_client_bucket("") == ("code.client:unknown", UNKNOWN_CLIENTS_POLICY)
    # Never the browser session: a reload would start a new count.
    assert code_client_bucket(None) == code_client_bucket(None)


def test_five_wrong_codes_in_ten_minutes_lock_a_client_out_for_a_quarter_of_an_hour() -> None:
    counted = None
    for minute in range(5):
        counted = after_failure(counted, CLIENT_POLICY, NOW + timedelta(minutes=minute))
        if minute < 4:
            assert counted.lock_at(NOW + timedelta(minutes=minute)) is None
    assert counted is not None
    assert counted.locked_until == NOW + timedelta(minutes=4 + 15)


def test_wrong_codes_spread_out_are_not_throttled() -> None:
    counted = None
    for step in range(20):
        at = NOW + timedelta(minutes=3 * step)
        counted = after_failure(counted, CLIENT_POLICY, at)
        assert counted.lock_at(at) is None


def test_the_lock_message_says_how_many_minutes_to_wait() -> None:
    assert "wait 15 minutes" in str(TooManyAttempts(NOW + timedelta(minutes=15), NOW))
    assert "wait 1 minute and" in str(TooManyAttempts(NOW + timedelta(seconds=20), NOW))


# The sessions a new link is about ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "before", "after"),
    [
        ([], 1, 1),
        ([1], 2, 1),
        ([1, 2], 3, 2),
        ([2, 1], 3, 2),
        ([1, 2, 4], 5, 4),  # session 3 not written up yet: the visit coming is still the fifth
    ],
)
def test_before_a_session_is_the_next_unrecorded_and_after_the_last_recorded(
    recorded: list[int], before: int, after: int
) -> None:
    assert suggested_sessions(recorded) == {"before_session": before, "after_session": after}


def test_a_link_carries_at_least_one_questionnaire() -> None:
    with pytest.raises(ValidationError, match="at least 1"):
        make_link(questionnaires=[])
