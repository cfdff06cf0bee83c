"""Limits on the files and text the app reads, so a bad or hostile input is refused at once.

A 5,000-digit integer, arrays nested 100,000 deep or a 10 MB line each cost the parser seconds
to minutes, or break it with a traceback. Each limit here is far above what a real file needs
and is checked before the expensive work starts, with a message that names the limit. They are
documented for the people who write these files in docs/limits.md; keep the two in step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

MB = 1024 * 1024
# A caseload file: 200,000 CSV rows (the row limit) take about 26 MB.
CASELOAD_FILE_MB = 50
# Anything else read whole: a case file, a FHIR bundle, text to code. A case file with 200
# sessions is under 200 KB; a bundle of it under 2 MB.
FILE_MB = 5
# One content file (content/**/*.yaml): the largest we ship is about 60 KB.
CONTENT_FILE_MB = 1
# The largest upload Streamlit's server accepts: .streamlit/config.toml's server.maxUploadSize
# must say the same (a test checks), or a bigger file fails with a bare HTTP error.
UPLOAD_MB = CASELOAD_FILE_MB
# Values in one content file once its YAML aliases are expanded: a 1 MB file holds at most about
# 250,000 written out.
YAML_VALUES = 1_000_000
# Brackets inside brackets in JSON: a case file needs 5, a FHIR bundle about 10.
JSON_DEPTH = 64
# Digits in one number: no count, score or date in any file needs more than a few.
NUMBER_DIGITS = 30
# Characters on one line of text to code (one statement a line); an open answer holds 2,000.
LINE_CHARS = 10_000

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_LONG_NUMBER = re.compile(rf"\d{{{NUMBER_DIGITS + 1},}}")


class InputRefused(ValueError):
    """A file or text over a limit, or one that cannot be read; the message says what to do.

    The message never quotes the input: it may hold a patient's words.
    """

    def sentence(self) -> str:
        """The message as a sentence, as the pages word their errors."""
        message = str(self)
        return f"{message[:1].upper()}{message[1:]}."


def read_bytes(path: Path, limit_mb: int = FILE_MB) -> bytes:
    """The bytes of the file at ``path``, refused (InputRefused) over ``limit_mb`` or unreadable."""
    try:
        if path.is_dir():
            raise InputRefused(f"{path} is a folder, not a file")
        check_size(path.stat().st_size, limit_mb, str(path))
        with path.open("rb") as file:
            # The size a device or a growing file reports is no promise: read one byte more.
            data = file.read(limit_mb * MB + 1)
    except OSError as exc:
        raise InputRefused(f"cannot read {path}: {exc.strerror or exc}") from None
    check_size(len(data), limit_mb, str(path))
    return data


def check_size(size: int, limit_mb: int, what: str = "the file") -> None:
    """InputRefused when ``size`` bytes are over ``limit_mb`` megabytes."""
    if size > limit_mb * MB:
        raise InputRefused(
            f"{what} is {size / MB:.1f} MB; the limit is {limit_mb} MB: split it into smaller files"
        )


def decode(data: bytes, what: str = "the file") -> str:
    """UTF-8 text (a byte-order mark dropped); InputRefused naming the line that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputRefused(
            f"{what} is not UTF-8 text (line {line}, byte {exc.start + 1} cannot be read): "
            "save it as UTF-8 and try again"
        ) from None


def read_text(path: Path, limit_mb: int = FILE_MB) -> str:
    """The UTF-8 text of the file at ``path``, within ``limit_mb``; InputRefused otherwise."""
    return decode(read_bytes(path, limit_mb), str(path))


def load_json(text: str) -> Any:
    """Parse JSON within the nesting and number limits; InputRefused for anything else.

    The checks run on the text with its strings removed, before ``json.loads``: past about
    1,000 levels the parser raises RecursionError, and past 4,300 digits a ValueError that
    talks about ``sys.set_int_max_str_digits``. NaN and Infinity are not JSON and are refused.
    """
    bare = _without_strings(text)
    depth = _depth(bare)
    if depth > JSON_DEPTH:
        raise InputRefused(
            f"the JSON is nested {depth:,} levels deep; the limit is {JSON_DEPTH}: "
            "this is not a file the app wrote"
        )
    if _LONG_NUMBER.search(bare):
        raise InputRefused(
            f"the JSON holds a number of more than {NUMBER_DIGITS} digits; "
            "no value in these files needs one"
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputRefused(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None


def _without_strings(text: str) -> str:
    """JSON text with what is inside its strings left out (brackets and digits there count not).

    Without an escaped quote the strings are every other piece between quotes, which is ten
    times faster to cut than to match.
    """
    if '\\"' in text:
        return _STRING.sub('""', text)
    return '""'.join(text.split('"')[::2])


def _depth(bare: str) -> int:
    """How deep the brackets of JSON text (strings removed) go, without recursion."""
    brackets = np.frombuffer(_NOT_BRACKET.sub("", bare).encode("ascii"), dtype=np.uint8)
    if not brackets.size:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _refuse_constant(name: str) -> Any:
    raise InputRefused(f"the JSON holds {name}, which is not a number JSON allows")


def check_lines(text: str, limit: int = LINE_CHARS, what: str = "the file") -> None:
    """InputRefused naming the first line longer than ``limit`` characters."""
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > limit:
            raise InputRefused(
                f"{what}: line {number} is {len(line):,} characters long; the limit is "
                f"{limit:,}: put one statement on each line"
            )
