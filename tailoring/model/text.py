"""Free text that people type: the most characters each kind may hold, and what it may not hold.

Every free-text field is limited here, in the domain, not only by its widget: a 20 MB note sent
past the page was stored, and its review PDF then ran for over ten minutes. Control characters
are removed (newline and tab stay; a Windows line end becomes a newline): they show nothing,
and PostgreSQL refuses a NUL in text, which came back as "database cannot be used right now".
Lone surrogates cannot be stored as UTF-8 and are removed too. The pages give each widget the
same limit (``max_chars``) and docs/limits.md lists them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

# A social-context note, a session note, a patient's answer to an open question.
NOTE_CHARS = 2_000
# A supervision note.
SUPERVISION_NOTE_CHARS = 4_000
# A reason for a flag decision, the action agreed in supervision.
SHORT_TEXT_CHARS = 500
# A person's name as shown (an account's display name, a case's therapist).
NAME_CHARS = 80

_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class TextTooLong(ValueError):
    """Free text over its limit; the message names the field and the limit, never the text."""


def clean(text: str) -> str:
    """``text`` without control characters (newline and tab kept) or lone surrogates."""
    return _UNWANTED.sub("", text.replace("\r\n", "\n"))


def checked(text: str, limit: int, what: str) -> str:
    """``text`` cleaned; TextTooLong when it is still over ``limit`` characters.

    The length is checked before cleaning too, so a text many times over the limit costs
    nothing more than its length.
    """
    if len(text) > 2 * limit:
        raise _too_long(len(text), limit, what)
    text = clean(text)
    if len(text) > limit:
        raise _too_long(len(text), limit, what)
    return text


def _too_long(length: int, limit: int, what: str) -> TextTooLong:
    return TextTooLong(
        f"The {what} is {length:,} characters long; the limit is {limit:,}. Shorten it."
    )


def _clean_if_text(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


# Field types: the text cleaned first (a before-validator wraps what stands to its left), then
# held to its limit.
NoteText = Annotated[str, StringConstraints(max_length=NOTE_CHARS), BeforeValidator(_clean_if_text)]
NameText = Annotated[
    str, StringConstraints(min_length=1, max_length=NAME_CHARS), BeforeValidator(_clean_if_text)
]
