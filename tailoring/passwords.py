"""Which new passwords are refused, and why in plain words (NCSC: block the ones guessed first).

Length alone lets ``aaaaaaaaaa`` through. The NCSC's advice is to refuse the passwords attackers
try first rather than demand symbols: common passwords and the words they are built on (a list
shipped in ``tailoring/common-passwords.txt``), one character or a short piece repeated, a
run of keys or letters, numbers alone, and the account's own username. A refusal says which rule
it broke, so the person can choose better rather than add a ``1`` at the end.
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 1024
COMMON_PASSWORDS = Path(__file__).parent / "common-passwords.txt"
# Fewer different characters than this in ten or more is a pattern, not a password.
MIN_DIFFERENT = 5
# The shortest piece of a username looked for in a password: "dr.a" is found whole, but only
# longer parts ("smith" of "dr.smith") are looked for on their own.
NAME_PART = 4
# Rows of keys and runs of letters and digits, forwards; a password inside one of them (or inside
# one read backwards) is refused.
RUNS = (
    string.ascii_lowercase,
    "01234567890",
    "1234567890-=",
    "!@#$%^&*()_+",
    "qwertyuiop[]",
    "asdfghjkl;'#",
    "zxcvbnm,./",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
    "q1w2e3r4t5y6u7i8o9p0",
)
# Digits and symbols that stand for the letters they look like.
LOOKALIKES = str.maketrans("0134578@$!|", "oieastbasil")
ENDS = string.digits + string.punctuation + string.whitespace

TOO_SHORT = f"a password needs at least {MIN_LENGTH} characters"
TOO_LONG = f"a password can have at most {MAX_LENGTH} characters"
ADVICE = "Choose another: three random words you will remember make a strong password."
COMMON = (
    "this password is, or is built on, one of the common passwords that attackers try first "
    "(a word such as 'password', a name, a team or a keyboard row, with digits or symbols "
    "added). " + ADVICE
)
REPEATED = (
    "this password repeats one character or a short piece (like 'aaaaaaaaaa' or "
    "'abcabcabca'). " + ADVICE
)
RUN = (
    "this password is a run of keys, letters or digits (like '1234567890', 'abcdefghij' or "
    "'qwertyuiop'). " + ADVICE
)
NO_LETTERS = (
    "this password has no letters: numbers and symbols alone, such as dates or phone numbers, "
    "are easy to guess. " + ADVICE
)
HAS_USERNAME = "this password contains the username, which is the first thing tried. " + ADVICE


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` may not be set for the account ``username``, or None if it may."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    lowered = password.lower()
    if any(part in lowered for part in _name_parts(username)):
        return HAS_USERNAME
    if len(set(lowered)) < MIN_DIFFERENT or _repeats(lowered):
        return REPEATED
    if _in_a_run(lowered) or _in_a_run(lowered.strip(ENDS)):
        return RUN
    if not any(c.isalpha() for c in password):
        return NO_LETTERS
    if _core(lowered) in common_passwords():
        return COMMON
    return None


def check_password(password: str, username: str = "") -> None:
    """ValueError, with the reason in plain words, for a password that may not be set."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValueError(problem)


@cache
def common_passwords() -> frozenset[str]:
    """The deny-list, each line read as a password is compared with it."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(
        _core(line.lower()) for line in lines if line.strip() and not line.startswith("#")
    )


def _core(lowered: str) -> str:
    """The word a password is built on: digits and symbols at either end dropped, look-alike
    characters read as letters (``P@ssw0rd2024!`` is ``password``)."""
    return lowered.strip(ENDS).translate(LOOKALIKES)


def _name_parts(username: str) -> list[str]:
    name = username.strip().lower()
    if len(name) < 3:
        return []
    return [name, *(p for p in re.split(r"[._-]", name) if len(p) >= NAME_PART)]


def _repeats(lowered: str) -> bool:
    """Whether the password is a shorter piece said again and again (``abcabcabca``)."""
    size = len(lowered)
    return any(
        (lowered[:piece] * (size // piece + 1))[:size] == lowered
        for piece in range(1, size // 2 + 1)
    )


def _in_a_run(text: str) -> bool:
    return len(text) >= 4 and any(text in run or text in run[::-1] for run in RUNS)
