"""The identifier detector: each kind found, ordinary clinical text left alone, redaction."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailoring.engine.identifiers import (
    FoundIdentifier,
    find_identifiers,
    is_valid_nhs_number,
    nhs_check_digit,
    redact,
)

TODAY = datetime.date(2026, 11, 27)
# An NHS number with a valid check digit (the NHS's own published example).
VALID_NHS = "9434765919"


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find_identifiers(text, TODAY)]


def formatted(digits: str, style: str) -> str:
    if style == "spaced":
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if style == "dashed":
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


# --- NHS numbers ---------------------------------------------------------------------------


def test_check_digit_by_hand() -> None:
    # 9×10 + 4×9 + 3×8 + 4×7 + 7×6 + 6×5 + 5×4 + 9×3 + 1×2 = 299; 299 mod 11 = 2; 11 − 2 = 9.
    assert nhs_check_digit("943476591") == 9
    assert is_valid_nhs_number(VALID_NHS)
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("943476591")


def test_check_digit_eleven_is_zero_and_ten_is_invalid() -> None:
    assert nhs_check_digit("100000000") == 1  # 1×10 = 10; 10 mod 11 = 10; 11 − 10 = 1
    assert nhs_check_digit("000000000") == 0  # remainder 0: 11 − 0 = 11, which becomes 0
    assert nhs_check_digit("000000006") is None  # 6×2 = 12; 12 mod 11 = 1; 11 − 1 = 10
    assert not any(is_valid_nhs_number(f"000000006{d}") for d in range(10))
    assert is_valid_nhs_number("0000000000")


@pytest.mark.parametrize("style", ["plain", "spaced", "dashed"])
def test_nhs_number_in_each_style(style: str) -> None:
    text = f"NHS no. {formatted(VALID_NHS, style)}, seen today."
    assert found(text) == [("nhs_number", formatted(VALID_NHS, style))]


def test_nhs_number_with_mixed_separators_or_part_of_a_longer_number_is_not_one() -> None:
    assert found("943 476-5919") == []
    assert found("19434765919") == []
    assert found("9434765919123") == []


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
styles = st.sampled_from(["plain", "spaced", "dashed"])
words = st.lists(
    st.sampled_from(["Patient", "NHS", "number", "is", "seen", "on", "ward", "(", ")", ":", ","]),
    max_size=4,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(nine_digits, styles, words, words)
def test_every_valid_nhs_number_is_found(first: str, style: str, before: str, after: str) -> None:
    check = nhs_check_digit(first)
    if check is None:
        return
    number = formatted(first + str(check), style)
    text = f"{before} {number} {after}"
    assert ("nhs_number", number) in found(text)


@settings(max_examples=300, deadline=None)
@given(nine_digits, st.integers(0, 9), styles, words)
def test_ten_digits_with_a_wrong_check_digit_are_not_an_nhs_number(
    first: str, last: int, style: str, before: str
) -> None:
    if nhs_check_digit(first) == last:
        last = (last + 1) % 10
    text = f"{before} {formatted(first + str(last), style)}."
    kinds = [kind for kind, _ in found(text)]
    assert "nhs_number" not in kinds
    if first[0] != "0":
        # Not a UK phone number either, and nothing else.
        assert kinds == []


@settings(max_examples=200, deadline=None)
@given(nine_digits, styles, words)
def test_redaction_leaves_no_nhs_number(first: str, style: str, before: str) -> None:
    check = nhs_check_digit(first)
    if check is None:
        return
    number = formatted(first + str(check), style)
    text = f"{before} {number} and again {number}"
    redacted = redact(text, find_identifiers(text, TODAY))
    assert number not in redacted
    assert redacted.count("[NHS number removed]") == 2


# --- emails ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["jo.bloggs@nhs.net", "J_Bloggs+therapy@example.co.uk", "a1@b-c.org"]
)
def test_email(email: str) -> None:
    assert found(f"Write to {email}.") == [("email", email)]


def test_not_an_email() -> None:
    assert found("We met @ the clinic; rating 4@5; name@localhost") == []


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "07700-900-123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900123",
        "020 7946 0958",
        "(020) 7946 0958",
        "+44 (0)20 7946 0958",
        "+44 20 7946 0958",
        "0113 496 0000",
        "0121-496-0000",
        "01632 960123",
        "(01632) 960 123",
        "01632 96012",
        "0300 123 4567",
    ],
)
def test_uk_phone_numbers(phone: str) -> None:
    assert found(f"Call me on {phone} after 5.") == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "Samaritans on 116 123, NHS 111, or 999 in an emergency.",
        "Freephone 0800 123 4567.",
        "Sessions 10:30-11:20, then 14:00.",
        "Reference 12345678.",
        "She has 07 sessions left and 020 pages to read.",
    ],
)
def test_not_a_personal_phone_number(text: str) -> None:
    assert found(text) == []


# --- postcodes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "postcode",
    ["SW1A 1AA", "sw1a 1aa", "SW1A1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB"],
)
def test_uk_postcodes(postcode: str) -> None:
    assert found(f"She moved to {postcode} last year.") == [("postcode", postcode)]


def test_a_postcode_whose_inward_code_reads_as_an_ordinal_needs_capitals() -> None:
    assert found("Ward A1 2nd floor; SW1A 2ND.") == [("postcode", "SW1A 2ND")]


@pytest.mark.parametrize(
    "text",
    [
        "B12 and folate were low; T2DM; PHQ9 at 14; GAD7 at 12.",
        "Step 2 in week 3, then step 3 (CBT) for 16 sessions.",
        "Took the M25 home; room A1 2nd floor; ward B2 3rd bed.",
        "in 2 days, at 3pm, ab 12 minutes",
    ],
)
def test_not_a_postcode(text: str) -> None:
    assert found(text) == []


# --- dates of birth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    ["12/03/1985", "12/3/85", "1.3.85", "12-03-1985", "12 March 1985", "12th of Mar 1985",
     "March 12, 1985", "1985-03-12"],
)  # fmt: skip
def test_an_old_full_date_may_be_a_date_of_birth(date: str) -> None:
    assert found(f"Noted {date} in the letter.") == [("date_of_birth", date)]


@pytest.mark.parametrize(
    "text",
    ["DOB 04/05/2015", "D.O.B.: 04/05/2015", "born on 4 May 2015", "date of birth 2015-05-04",
     "her birthday, 4th May 2015"],
)  # fmt: skip
def test_a_recent_date_after_a_birth_word_is_a_date_of_birth(text: str) -> None:
    assert [kind for kind, _ in found(text)] == ["date_of_birth"]


@pytest.mark.parametrize(
    "text",
    [
        "Session on 20/11/2026 went well; next 04/12/2026.",
        "Assessment 3 March 2024; reviewed 2025-01-15.",
        "Born in 1985, started work in March 1990.",
        "Birthday on 12 March; she turns 40.",
        "Appointment 31/02/2020 (a typo) and 13/13/1985.",
    ],
)
def test_recent_future_partial_or_impossible_dates_are_not_flagged(text: str) -> None:
    assert found(text) == []


def test_a_date_that_is_no_uk_date_is_read_month_first() -> None:
    assert found("DOB 03/25/1985") == [("date_of_birth", "03/25/1985")]
    assert found("Seen 11/25/2026") == []


def test_the_age_rule_counts_years_from_today() -> None:
    assert found("Seen 01/06/2010.") == []
    assert found("Seen 01/06/2009.") == [("date_of_birth", "01/06/2009")]


# --- ordinary clinical text ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "PHQ-9 fell from 19 to 11 over 8 sessions; GAD-7 14 → 9; WSAS 22.",
        "Session 3 of 12 at 10:30, 45 minutes, room 101.",
        "Scored 14/27 on PHQ-9 and 12/21 on GAD-7, reliable change of 6 points.",
        "Sertraline 50mg, increased to 100 mg on advice; ICD-10 F32.1.",
        "Plan: 6-8 sessions over 9-12 weeks, then review at week 16.",
        "She said it never felt rushed and that 2 of 3 goals were met.",
        "Version 2.1.13 of the workbook, pages 10-12.",
    ],
)
def test_ordinary_clinical_text_has_no_identifiers(text: str) -> None:
    assert found(text) == []


# --- several, overlap and redaction ----------------------------------------------------------


def test_several_kinds_in_order_and_redacted() -> None:
    text = (
        f"Pt NHS {formatted(VALID_NHS, 'spaced')}, DOB 12/03/1985, lives CR2 6XH, "
        "mob 07700 900123, email jo@example.com."
    )
    kinds = [kind for kind, _ in found(text)]
    assert kinds == ["nhs_number", "date_of_birth", "postcode", "phone", "email"]
    assert redact(text, find_identifiers(text, TODAY)) == (
        "Pt NHS [NHS number removed], DOB [date removed], lives [postcode removed], "
        "mob [phone number removed], email [email removed]."
    )


def test_a_valid_nhs_number_that_looks_like_a_phone_number_is_an_nhs_number() -> None:
    number = "0123456789"  # check digit 9 is valid, and 01234 56789 is a landline's shape
    assert is_valid_nhs_number(number)
    assert found(number) == [("nhs_number", number)]


def test_redact_nothing_changes_nothing() -> None:
    assert redact("nothing here", []) == "nothing here"


def test_redact_refuses_identifiers_of_another_text_without_quoting_them() -> None:
    other = find_identifiers("call 07700 900123", TODAY)
    with pytest.raises(ValueError, match="phone at 5–17") as caught:
        redact("a different text altogether", other)
    assert "07700" not in str(caught.value)


def test_redact_refuses_overlapping_identifiers() -> None:
    text = "jo@example.com"
    a = FoundIdentifier("email", 0, 14, text)
    b = FoundIdentifier("email", 3, 14, text[3:])
    with pytest.raises(ValueError, match="overlaps"):
        redact(text, [a, b])


def test_repr_leaves_the_identifier_out() -> None:
    (item,) = find_identifiers("jo@example.com", TODAY)
    assert "jo@example.com" not in repr(item)


def test_today_defaults_to_the_date_today() -> None:
    assert [f.kind for f in find_identifiers("DOB 01/01/1990")] == ["date_of_birth"]


# --- text normalised before the search -------------------------------------------------------

NBSP, NNBSP, ZWSP, WORD_JOINER, SOFT_HYPHEN = "\u00a0", "\u202f", "\u200b", "\u2060", "\u00ad"


@pytest.mark.parametrize(
    "number",
    [
        f"943{NBSP}476{NBSP}5919",
        f"943{NNBSP}476{NNBSP}5919",
        f"943{ZWSP}476{ZWSP}5919",
        f"9434{WORD_JOINER}765919",
        f"943{SOFT_HYPHEN}4765919",
        "943.476.5919",
        "９４３４７６５９１９",  # full-width digits
    ],
)
def test_nhs_number_hidden_by_unicode_or_written_with_dots(number: str) -> None:
    text = f"NHS no {number}, seen today."
    assert found(text) == [("nhs_number", number)]
    assert redact(text, find_identifiers(text, TODAY)) == "NHS no [NHS number removed], seen today."


@pytest.mark.parametrize(
    "email",
    [
        "jo.bloggs at nhs.net",
        "jo.bloggs AT nhs.net",
        "jo.bloggs (at) nhs.net",
        "jo.bloggs(at)example.co.uk",
        "jo.bloggs [at] nhs [dot] net",
        "jo at nhs dot net",
        f"jo.bloggs{ZWSP}@nhs.net",
        f"jo.bloggs@{ZWSP}nhs.net",
        "anna@bücher.de",
        "josé.garcía@correo.es",
        "user@例え.jp",
        "jo＠nhs.net",  # full-width @
    ],
)
def test_email_written_out_hidden_or_international(email: str) -> None:
    assert found(f"Contact: {email} please.") == [("email", email)]


@pytest.mark.parametrize(
    "phone", ["07700.900.123", "07700.900123", "020.7946.0958", "+44.7700.900123", "0113.496.0000"]
)
def test_phone_number_with_dots(phone: str) -> None:
    assert found(f"Call me on {phone} after 5.") == [("phone", phone)]


@pytest.mark.parametrize(
    "postcode", [f"SW1A{ZWSP}1AA", f"SW1A{NBSP}1AA", f"CR2{ZWSP} 6XH", f"M1{SOFT_HYPHEN}1AE"]
)
def test_postcode_hidden_by_unicode(postcode: str) -> None:
    assert found(f"She moved to {postcode} last year.") == [("postcode", postcode)]


@pytest.mark.parametrize(
    "text",
    [
        "She feels safest at home.",
        "Meet at 5.30 on Tuesday; at 10.15 next week.",
        "Was at home.Then she went out at work.Later at school.",
        "Works at Tesco and stays at St. Mary's at weekends.",
        "Looked at 2.5 mg, at 3.1 and at G.P. surgery at 9.",
        "Stayed at her sister's (at least twice) at Christmas.",
        f"Scores{NBSP}14 and{ZWSP}12, café visits at week{NBSP}3.",
        "Rating 4 at 5.2; goals at 3 of 5.",
    ],
)
def test_prose_with_at_dots_and_unicode_spaces_has_no_identifiers(text: str) -> None:
    assert found(text) == []


def test_spans_are_in_the_text_as_written() -> None:
    text = f"a{ZWSP}b{ZWSP} mob 077{ZWSP}00 900123 and ９４３４７６５９１９"
    items = find_identifiers(text, TODAY)
    assert [(f.kind, text[f.start : f.end]) for f in items] == [
        ("phone", f"077{ZWSP}00 900123"),
        ("nhs_number", "９４３４７６５９１９"),
    ]
    redacted = redact(text, items)
    assert redacted == f"a{ZWSP}b{ZWSP} mob [phone number removed] and [NHS number removed]"
