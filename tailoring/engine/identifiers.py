"""Finds identifiers typed into free text and redacts them, so they are caught before saving.

Kinds, and what is taken to be one:
- ``nhs_number``: ten digits, run together or grouped 3-3-4 with spaces, dashes or dots, whose
  last digit is the modulus-11 check digit of the first nine (weights 10 down to 2; the check
  digit is 11 minus the remainder, 11 becomes 0, and 10 means no valid number). Ten digits that
  fail the check are not flagged: they are not an NHS number.
- ``email``: an address with a local part, an @ and a domain with a dot, in any script
  ("anna@bücher.de"); also with the @ written out as "(at)" or "[at]", or as " at " when the
  domain ends in a common top-level domain ("jo.bloggs at nhs.net", "jo at nhs dot net"), so
  "at home" or "meet at 5.30" stay ordinary prose.
- ``phone``: a UK number on 01, 02, 03 (landlines and non-geographic) or 07 (mobiles), written
  from 0, +44, 0044 or +44 (0), with spaces, dashes, dots or brackets between the usual groups.
  Freephone and helpline numbers (0800, 0808, 111) are not flagged: they identify no one.
- ``postcode``: a full UK postcode (outward and inward code, e.g. "SW1A 1AA" or "sw1a1aa"),
  case-insensitive, with or without the space, only as a whole word and only with the letters
  each position may hold, so ordinary words and clinical codes (PHQ9, B12, T2DM) do not match;
  nor does an inward code in lower case that reads as an ordinal ("ward A1 2nd floor").
- ``date_of_birth``: a full date (day, month and year: 12/03/1985, 1.3.85, 12 March 1985,
  March 12, 1985, 1985-03-12; a numeric date is read day first, and month first only when it
  cannot be read day first, as 03/25/1985) that may be a date of birth. A note often holds the
  date of a session, so a date is flagged only when a birth word ("born", "DOB", "date of
  birth", "birthday", "b.") comes shortly before it, or when its year is more than 16 years
  before ``today`` (as a date of birth of an adult patient would be). A recent or future date, a
  day and month without a year, and a year alone are not flagged.

The text is normalised before it is searched (Unicode NFKC, so full-width digits and
non-breaking spaces read as digits and spaces; zero-width characters and soft hyphens removed),
because a number split by an invisible character is still the number. Each span found is given
in the text as written, so ``redact`` removes the invisible characters with it.

Nothing here logs, and a found identifier's ``repr`` leaves out the matched text.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

IdentifierKind = Literal["nhs_number", "email", "phone", "postcode", "date_of_birth"]
KINDS: tuple[IdentifierKind, ...] = ("nhs_number", "email", "phone", "postcode", "date_of_birth")
REDACTIONS: dict[IdentifierKind, str] = {
    "nhs_number": "[NHS number removed]",
    "email": "[email removed]",
    "phone": "[phone number removed]",
    "postcode": "[postcode removed]",
    "date_of_birth": "[date removed]",
}
# A date whose year is further back than this may be a date of birth even with no birth word.
DOB_MIN_YEARS = 16
# How far before a date (in characters) a birth word still points at it.
DOB_WORD_REACH = 30


@dataclass(frozen=True)
class FoundIdentifier:
    """An identifier found in a text: its kind, its span, and the text it covers."""

    kind: IdentifierKind
    start: int
    end: int
    text: str = field(repr=False)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit of nine digits, or None when no valid number has them."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return 0 if check == 11 else check


def is_valid_nhs_number(digits: str) -> bool:
    """Whether ten digits (separators removed) are an NHS number with a valid check digit."""
    return len(digits) == 10 and digits.isdigit() and nhs_check_digit(digits[:9]) == int(digits[9])


# Zero-width spaces, joiners, the word joiner, the byte-order mark and the soft hyphen: they show
# nothing, yet split "943\u200b476 5919" so that no pattern would see the number.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")

_NHS = re.compile(r"(?<![\w+-])\d{3}([ .-]?)\d{3}\1\d{4}(?![\w-]|\.\d)")

# Letters and digits of any script: an address may be "anna@bücher.de".
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_LOCAL = r"[^\W_](?:[\w.%+-]*[\w%+-])?"
_EMAIL = re.compile(
    rf"(?<![\w.+-]){_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)(?![\w-])"
)
# "jo (at) nhs (dot) net" and "jo [at] nhs.net" say what they are; a bare " at " is an address
# only before a domain that ends in a common top-level domain, so "at home.Then" is not one.
_AT = r"(?P<at>\s*[(\[]\s*at\s*[)\]]\s*|\s+at\s+)"
_DOT = r"(?:\.|\s*[(\[]\s*dot\s*[)\]]\s*|\s+dot\s+)"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.+-]){_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}(?P<tld>[^\W\d_]{{2,}})(?![\w-])",
    re.IGNORECASE,
)
# fmt: off
COMMON_TLDS = frozenset(
    ["com", "net", "org", "uk", "ie", "eu", "info", "biz", "edu", "gov", "io", "co", "de", "fr",
     "es", "nl", "us", "ca", "au", "nz", "scot", "wales"]
)
# fmt: on

_SEP = r"[ .-]?"
# The number after its leading 0, with the area code optionally closed by a bracket.
_UK_NUMBER = "|".join(
    [
        rf"7\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}",  # 07700 900 123
        rf"7\d{{3}}{_SEP}\d{{6}}",  # 07700 900123
        rf"2\d\)?{_SEP}\d{{4}}{_SEP}\d{{4}}",  # 020 7946 0958
        rf"3\d{{2}}\)?{_SEP}\d{{3}}{_SEP}\d{{4}}",  # 0300 123 4567
        rf"1\d{{2}}\)?{_SEP}\d{{3}}{_SEP}\d{{4}}",  # 0113 496 0000
        rf"1\d{{3}}\)?{_SEP}\d{{3}}{_SEP}\d{{3}}",  # 01632 960 123
        rf"1\d{{3}}\)?{_SEP}\d{{5,6}}",  # 01632 960123
        rf"1\d{{4}}\)?{_SEP}\d{{4,5}}",  # 016977 4567
    ]
)
_PHONE = re.compile(
    rf"(?<![\w+(])(?:\+44{_SEP}(?:\(0\){_SEP})?|0044{_SEP}|\(0|0)(?:{_UK_NUMBER})(?![\w-])"
)

# The letters each position of a postcode may hold (no Q, V or X first; no C, I, K, M, O or V
# in the inward code), which keeps ordinary words and codes such as B12 or T2DM out.
_OUTWARD = r"[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRV-Y\d]?)"
_INWARD = r"\d[ABD-HJLNP-UW-Z]{2}"
# "A1 2nd", "B2 3rd": a lower-case inward code that reads as an ordinal is not a postcode.
_ORDINAL_INWARD = re.compile(r"(?:1st|2nd|3rd|[04-9]th)$")
_POSTCODE = re.compile(
    rf"(?<![A-Za-z0-9])(?:GIR ?0AA|{_OUTWARD} ?{_INWARD})(?![A-Za-z0-9])", re.IGNORECASE
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATES = [
    # 12/03/1985, 1.3.85, 12-03-1985: day first, as in the UK.
    (
        re.compile(r"(?<![\w./-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?![\w/-]|\.\d)"),
        ("day", "month", "year"),
        (1, 3, 4),
    ),
    # 1985-03-12
    (
        re.compile(r"(?<![\w./-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w/-]|\.\d)"),
        ("year", "month", "day"),
        (1, 2, 3),
    ),
    # 12 March 1985, 12th of Mar. 1985
    (
        re.compile(
            rf"(?<![\w.])(\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?({_MONTH})\.?,?\s+(\d{{4}})(?![\w])",
            re.IGNORECASE,
        ),
        ("day", "month", "year"),
        (1, 2, 3),
    ),
    # March 12, 1985
    (
        re.compile(
            rf"(?<![\w.])({_MONTH})\.?\s+(\d{{1,2}}){_ORDINAL},?\s+(\d{{4}})(?![\w])",
            re.IGNORECASE,
        ),
        ("month", "day", "year"),
        (1, 2, 3),
    ),
]
_BIRTH_WORD = re.compile(r"(?<![\w])(?:born|birth|birthday|dob|d\.o\.b|b\.)(?![\w])", re.IGNORECASE)


def _date(parts: dict[str, str], today: datetime.date) -> datetime.date | None:
    """The date the parts name, or None when they name none (13th month, 30 February)."""
    month = parts["month"]
    month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
    year = int(parts["year"])
    if len(parts["year"]) == 2:
        # A two-digit year is this century unless that would put it in the future.
        year += 2000 if 2000 + year <= today.year else 1900
    day = int(parts["day"])
    try:
        return datetime.date(year, month_number, day)
    except ValueError:
        pass
    if not month.isdigit():
        return None
    # 03/25/1985 is no UK date, but it is a US one.
    try:
        return datetime.date(year, day, month_number)
    except ValueError:
        return None


def _dates_of_birth(text: str, today: datetime.date) -> list[FoundIdentifier]:
    found = []
    for pattern, names, groups in _DATES:
        for match in pattern.finditer(text):
            parts = dict(zip(names, (match.group(g) for g in groups), strict=True))
            date = _date(parts, today)
            if date is None or date > today:
                continue
            before = text[max(0, match.start() - DOB_WORD_REACH) : match.start()]
            old = today.year - date.year > DOB_MIN_YEARS
            if old or _BIRTH_WORD.search(before):
                found.append(FoundIdentifier("date_of_birth", *match.span(), match.group()))
    return found


def _normalised(text: str) -> tuple[str, list[int]]:
    """``text`` in NFKC without invisible characters, and where each of its characters came from.

    Each character is normalised on its own so that every character of the result maps back to
    one of ``text`` (a ligature or a full-width form may give several).
    """
    pieces: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        mapped = char if char.isascii() else unicodedata.normalize("NFKC", char)
        pieces.append(mapped)
        origins.extend([index] * len(mapped))
    return "".join(pieces), origins


def find_identifiers(text: str, today: datetime.date | None = None) -> list[FoundIdentifier]:
    """Every identifier in ``text``, in order, none overlapping another.

    ``today`` (default: the date today) decides which dates are old enough to be a date of
    birth. Where two kinds cover the same characters the longer match stays, then the kind
    listed first in KINDS (a valid NHS number that also looks like a phone number is an NHS
    number). The search runs on the normalised text; spans are those of ``text`` as given.
    """
    if text.isascii():
        return _find(text, today or datetime.date.today())
    normal, origins = _normalised(text)
    found = []
    for item in _find(normal, today or datetime.date.today()):
        start, end = origins[item.start], origins[item.end - 1] + 1
        found.append(FoundIdentifier(item.kind, start, end, text[start:end]))
    return found


def _find(text: str, today: datetime.date) -> list[FoundIdentifier]:
    """The identifiers of an already normalised text."""
    candidates = [
        FoundIdentifier("nhs_number", *m.span(), m.group())
        for m in _NHS.finditer(text)
        if is_valid_nhs_number(re.sub(r"[ .-]", "", m.group()))
    ]
    candidates += [FoundIdentifier("email", *m.span(), m.group()) for m in _EMAIL.finditer(text)]
    candidates += [
        FoundIdentifier("email", *m.span(), m.group())
        for m in _SPELLED_EMAIL.finditer(text)
        if m.group("at").strip().lower() != "at" or m.group("tld").lower() in COMMON_TLDS
    ]
    candidates += [FoundIdentifier("phone", *m.span(), m.group()) for m in _PHONE.finditer(text)]
    candidates += [
        FoundIdentifier("postcode", *m.span(), m.group())
        for m in _POSTCODE.finditer(text)
        if not _ORDINAL_INWARD.search(m.group())
    ]
    candidates += _dates_of_birth(text, today)
    candidates.sort(key=lambda f: (f.start - f.end, KINDS.index(f.kind), f.start))
    kept: list[FoundIdentifier] = []
    for found in candidates:
        if all(found.end <= k.start or k.end <= found.start for k in kept):
            kept.append(found)
    return sorted(kept, key=lambda f: f.start)


def redact(text: str, found: list[FoundIdentifier]) -> str:
    """``text`` with each found identifier replaced by a label such as "[NHS number removed]".

    Raises ValueError when an identifier's span does not hold its text in ``text`` (it was
    found in another text) or two identifiers overlap; the message never quotes either.
    """
    pieces = []
    position = 0
    for item in sorted(found, key=lambda f: f.start):
        if text[item.start : item.end] != item.text or item.start >= item.end:
            raise ValueError(
                f"the {item.kind} at {item.start}–{item.end} was not found in this text"
            )
        if item.start < position:
            raise ValueError(f"the {item.kind} at {item.start}–{item.end} overlaps another")
        pieces += [text[position : item.start], REDACTIONS[item.kind]]
        position = item.end
    pieces.append(text[position:])
    return "".join(pieces)
