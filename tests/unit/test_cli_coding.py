"""The code-feedback command: UTF-8 statements in, one JSON object a line out, in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailoring.__main__ import main

STATEMENTS = [
    "It never felt rushed.",
    "",
    "I didn’t feel listened to, and the therapist was cold.",
    "The car park was always full.",
]


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "feedback.txt"
    path.write_bytes(data)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], path: str) -> tuple[int, str, str]:
    code = main(["code-feedback", path])
    out, err = capsys.readouterr()
    return code, out, err


def test_one_object_a_line_in_the_same_order(tmp_path, capsys) -> None:
    path = write(tmp_path, ("\n".join(STATEMENTS) + "\n").encode())
    code, out, err = run(capsys, path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]"
    assert [json.loads(line.rstrip(","))["text"] for line in lines[1:-1]] == STATEMENTS
    printed = json.loads(out)
    assert printed == [
        {"text": STATEMENTS[0], "themes": [{"id": "pace", "evidence": ["rushed"]}]},
        {"text": "", "themes": []},
        {
            "text": STATEMENTS[2],
            "themes": [
                {"id": "heard", "evidence": ["listened"]},
                {"id": "alliance", "evidence": ["cold"]},
            ],
        },
        {"text": STATEMENTS[3], "themes": []},
    ]


def test_windows_line_ends_a_byte_order_mark_and_no_final_newline(tmp_path, capsys) -> None:
    path = write(tmp_path, "\ufeffIt felt rushed.\r\nI felt judged.".encode())
    code, out, _ = run(capsys, path)
    assert code == 0
    assert [row["text"] for row in json.loads(out)] == ["It felt rushed.", "I felt judged."]


def test_an_empty_file_is_an_empty_list(tmp_path, capsys) -> None:
    code, out, _ = run(capsys, write(tmp_path, b""))
    assert (code, out) == (0, "[]\n")


def test_text_that_is_not_utf8_is_refused_without_echoing_it(tmp_path, capsys) -> None:
    path = write(tmp_path, "Fine.\nLived at 12 Rue Sécurité\n".encode("latin-1"))
    code, out, err = run(capsys, path)
    assert code == 2
    assert out == ""
    assert "not UTF-8" in err and "line 2, byte 24" in err
    assert "Rue" not in err


def test_a_missing_file_is_refused(tmp_path, capsys) -> None:
    code, out, err = run(capsys, str(tmp_path / "absent.txt"))
    assert code == 2
    assert out == ""
    assert "cannot read" in err
