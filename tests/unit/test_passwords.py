"""New passwords: common ones, patterns and the username are refused with the reason."""

from __future__ import annotations

import pytest

from tailoring.passwords import (
    COMMON,
    HAS_USERNAME,
    NO_LETTERS,
    REPEATED,
    RUN,
    TOO_LONG,
    TOO_SHORT,
    common_passwords,
    password_problem,
)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaa", REPEATED),
        ("AAAAAAAAAA1", REPEATED),
        ("abcabcabca", REPEATED),
        ("1212121212", REPEATED),
        ("passwordpassword", REPEATED),
        ("aaaaabbbbb", REPEATED),
        ("1234567890", RUN),
        ("0987654321", RUN),
        ("abcdefghij", RUN),
        ("ZYXWVUTSRQ", RUN),
        ("qwertyuiop", RUN),
        ("asdfghjkl;", RUN),
        ("1q2w3e4r5t", RUN),
        ("!@#$%^&*()", RUN),
        ("abcdefgh2024!", RUN),
        ("31121999!!", NO_LETTERS),
        ("07700900123", NO_LETTERS),
        ("password123", COMMON),
        ("Password2024!", COMMON),
        ("P@ssw0rd!!", COMMON),
        ("Liverpool1892", COMMON),
        ("iloveyou12345", COMMON),
        ("qwerty123456", RUN),
        ("1qaz2wsx3edc!", RUN),
        ("Dragon1234!", COMMON),
        ("Welcome2026", COMMON),
        ("Tailoring2026!", COMMON),
        ("letmein12345", COMMON),
        ("correcthorsebatterystaple", COMMON),
        ("Summer2026!!", COMMON),
        ("short", TOO_SHORT),
        ("x" * 1025, TOO_LONG),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    assert password_problem(password, "dr.a") == reason


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("dr.a is my name", "dr.a"),
        ("Smith-kettle-harbour", "dr.smith"),
        ("my DR.SMITH pass", "dr.smith"),
    ],
)
def test_a_password_with_the_username_in_it_is_refused(password: str, username: str) -> None:
    assert password_problem(password, username) == HAS_USERNAME


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "kettle violin harbour",
        "Purple-Otter-Lantern-7",
        "tr0mbone & marmalade",
        "mYxk2!vQp9Lr",
    ],
)
def test_good_passwords_pass(password: str) -> None:
    assert password_problem(password, "dr.smith") is None


def test_every_reason_says_what_to_do() -> None:
    for reason in (COMMON, REPEATED, RUN, NO_LETTERS, HAS_USERNAME):
        assert "Choose another" in reason


def test_the_deny_list_is_read_like_the_passwords_it_refuses() -> None:
    listed = common_passwords()
    assert len(listed) > 500
    assert {"password", "qwerty", "liverpool", "iloveyou", "tailoring"} <= listed
    assert all(entry == entry.lower() and entry.strip() == entry for entry in listed)
