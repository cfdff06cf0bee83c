"""Bad and hostile files refused at once, by the command line, the content loader and the
caseload import, each with one line naming the limit and no traceback (docs/limits.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tailoring import limits
from tailoring.__main__ import main
from tailoring.content import ContentError, load_content
from tailoring.imports.caseload import parse_caseload
from tailoring.limits import InputRefused, load_json

BIG_INT = "9" * 5_000
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
SCENARIO = "cbt_anxiety_withdrawal"
# Seven aliases of ten make ten million values out of a few hundred bytes.
ALIAS_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 8)
)


def refused_by_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command; assert it failed with exit code 2 and no traceback; return stderr."""
    assert main(list(args)) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    return err


def written(tmp_path: Path, text: str, name: str = "input.json") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- load_json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f'{{"reference": "TT-1", "n": {BIG_INT}}}', "more than 30 digits"),
        (f"[{BIG_INT}]", "more than 30 digits"),
        (DEEP_ARRAY, "nested 100,000 levels deep; the limit is 64"),
        (DEEP_OBJECT, "nested 100,000 levels deep; the limit is 64"),
        ('{"x": NaN}', "NaN"),
        ('{"x": -Infinity}', "-Infinity"),
        ('{"x": 1,}', "not valid JSON (line 1, column 9)"),
    ],
)
def test_json_beyond_a_limit_is_refused_with_the_limit_named(text: str, words: str) -> None:
    with pytest.raises(InputRefused, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_json(text)


def test_brackets_and_digits_inside_strings_do_not_count() -> None:
    text = '{"note": "[[[[ ' + "9" * 100 + ' \\" {{{{", "n": [[1]]}'
    assert load_json(text)["n"] == [[1]]


def test_json_at_the_limits_is_read() -> None:
    deep = "[" * limits.JSON_DEPTH + "]" * limits.JSON_DEPTH
    assert load_json(deep) is not None
    assert load_json("9" * limits.NUMBER_DIGITS) == int("9" * limits.NUMBER_DIGITS)


def test_hostile_json_is_refused_fast() -> None:
    start = time.perf_counter()
    for text in (DEEP_ARRAY * 10, f"[{BIG_INT * 100}]"):
        with pytest.raises(InputRefused):
            load_json(text)
    assert time.perf_counter() - start < 2


# --- the command line: one line, exit code 2, no traceback ---------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f'{{"reference": "TT-1", "n": {BIG_INT}}}', "a number of more than 30 digits"),
        (DEEP_ARRAY, "nested 100,000 levels deep"),
        (DEEP_OBJECT, "nested 100,000 levels deep"),
        ('{"sessions_available": NaN}', "NaN"),
    ],
)
@pytest.mark.parametrize(
    "command", [["assess"], ["grade", SCENARIO], ["fhir", "export"], ["fhir", "import"]]
)
def test_every_command_reading_json_refuses_hostile_json(
    tmp_path, capsys, command: list[str], text: str, words: str
) -> None:
    path = written(tmp_path, text)
    err = refused_by_cli(capsys, *command, path)
    assert words in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "command", [["assess"], ["grade", SCENARIO], ["fhir", "import"], ["code-feedback"]]
)
def test_a_folder_given_as_a_file_is_refused(tmp_path, capsys, command: list[str]) -> None:
    err = refused_by_cli(capsys, *command, str(tmp_path))
    assert err == f"{tmp_path} is a folder, not a file\n"


@pytest.mark.parametrize("command", [["assess"], ["fhir", "import"], ["code-feedback"]])
def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, capsys, command) -> None:
    path = tmp_path / "big"
    path.write_bytes(b" " * (limits.FILE_MB * limits.MB + 1))
    err = refused_by_cli(capsys, *command, str(path))
    assert err == f"{path} is 5.0 MB; the limit is 5 MB: split it into smaller files\n"


def test_code_feedback_refuses_a_line_over_the_limit_fast(tmp_path, capsys) -> None:
    # The 9.6 MB single line that took over 120 s, cut to fit under the size limit.
    line = "I felt heard and rushed. " * 190_000
    path = written(tmp_path, f"It never felt rushed.\n{line}\n", "feedback.txt")
    start = time.perf_counter()
    err = refused_by_cli(capsys, "code-feedback", path)
    assert time.perf_counter() - start < 2
    assert err == (
        f"{path}: line 2 is {len(line):,} characters long; the limit is 10,000: "
        "put one statement on each line\n"
    )


def test_code_feedback_reads_a_line_at_the_limit(tmp_path, capsys) -> None:
    path = written(tmp_path, "x" * limits.LINE_CHARS + "\n", "feedback.txt")
    assert main(["code-feedback", path]) == 0
    assert capsys.readouterr().err == ""


# --- content folders ---------------------------------------------------------------------------


def content_problems(directory: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    return caught.value.problems


def test_a_content_file_that_is_a_folder_is_named(content_copy: Path, capsys) -> None:
    (content_copy / "themes.yaml").unlink()
    (content_copy / "themes.yaml").mkdir()
    assert content_problems(content_copy) == ["themes.yaml is a folder, not a file"]
    err = refused_by_cli(capsys, "validate-content", "--directory", str(content_copy))
    assert "themes.yaml is a folder, not a file" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "themes.yaml: nested too deeply to read"),
        ("- - " * 5_000 + "x\n", "themes.yaml: nested too deeply to read"),
        (f"- id: x\n  n: {BIG_INT}\n", "themes.yaml: holds a number too long to read"),
        (ALIAS_BOMB, "themes.yaml (line 1): not valid YAML: its aliases (*name) make more than"),
    ],
)
def test_hostile_yaml_is_named_without_a_traceback(
    content_copy: Path, capsys, text: str, problem: str
) -> None:
    (content_copy / "themes.yaml").write_text(text, encoding="utf-8")
    problems = content_problems(content_copy)
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    refused_by_cli(capsys, "validate-content", "--directory", str(content_copy))


def test_aliases_for_repeated_values_are_read(content_copy: Path) -> None:
    path = content_copy / "themes.yaml"
    head, first, second, *rest = path.read_text(encoding="utf-8").split("  summary: >-\n")
    # The second theme's summary becomes an alias of the first's, as a YAML writer may put it.
    second = "  patients_said:" + second.split("  patients_said:", 1)[1]
    written = f"{head}  summary: &said >-\n{first}  summary: *said\n{second}"
    path.write_text(written + "".join(f"  summary: >-\n{part}" for part in rest), "utf-8")
    themes = load_content(content_copy).themes
    assert themes[0].summary == themes[1].summary


def test_a_content_file_over_its_limit_is_refused_unread(content_copy: Path) -> None:
    path = content_copy / "themes.yaml"
    path.write_bytes(b"#" * (limits.CONTENT_FILE_MB * limits.MB + 1))
    assert content_problems(content_copy) == [
        "themes.yaml is 1.0 MB; the limit is 1 MB: split it into smaller files"
    ]


# --- the caseload import -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"[{BIG_INT}]", "The JSON holds a number of more than 30 digits"),
        (DEEP_ARRAY, "The JSON is nested 100,000 levels deep; the limit is 64"),
        (DEEP_OBJECT, "The JSON is nested 100,000 levels deep; the limit is 64"),
    ],
)
def test_the_caseload_import_refuses_hostile_json_as_a_file_problem(
    content, text: str, message: str
) -> None:
    report = parse_caseload(text.encode(), "caseload.json", content)
    (error,) = report.errors
    assert error.file_level and error.message.startswith(message)
    assert report.blocked
