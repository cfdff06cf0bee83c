"""The coding lexicon loads with the content, and a broken lexicon fails naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tailoring.content import LEXICON_FILE, load_content
from tailoring.model.coding import Lexicon
from tests.content_edits import content_problems, edit_yaml, has_problem


def edit_first_entry(directory: Path, **fields: Any) -> str:
    """Set fields of the lexicon's first entry; return its id."""
    first_id = ""

    def change(entries: object) -> None:
        nonlocal first_id
        assert isinstance(entries, list)
        first_id = entries[0]["id"]
        entries[0].update(fields)

    edit_yaml(directory / LEXICON_FILE, change)
    return first_id


def test_the_lexicon_loads_into_the_library(content_copy: Path) -> None:
    lexicon = load_content(content_copy).lexicon
    assert lexicon.entries
    assert all(entry.phrases for entry in lexicon.entries)


def test_without_a_lexicon_file_nothing_is_coded(content_copy: Path) -> None:
    (content_copy / LEXICON_FILE).unlink()
    assert load_content(content_copy).lexicon == Lexicon()


def test_unknown_theme(content_copy: Path) -> None:
    entry = edit_first_entry(content_copy, theme="punctuality")
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, f"[{entry}].theme"), problems


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("Rushed", "lower-case"),
        ("rush!", "lower-case"),
        ("ju*", "a prefix needs 3 letters"),
        ("... time", "cannot start or end"),
        ("take ... ... time", "two gaps in a row"),
        ("", "at least one word"),
    ],
)
def test_bad_phrase(content_copy: Path, phrase: str, message: str) -> None:
    entry = edit_first_entry(content_copy, phrases=["rush", phrase])
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, f"[{entry}].phrases.1", message), problems


def test_bad_unless_phrase(content_copy: Path) -> None:
    entry = edit_first_entry(content_copy, unless=["WAITING ROOM"])
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, f"[{entry}].unless.0"), problems


def test_no_phrases(content_copy: Path) -> None:
    entry = edit_first_entry(content_copy, phrases=[])
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, f"[{entry}].phrases"), problems


def test_unknown_field(content_copy: Path) -> None:
    entry = edit_first_entry(content_copy, phrase=["rush"])
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, f"[{entry}].phrase", "Extra inputs"), problems


def test_duplicate_id_and_repeated_phrase(content_copy: Path) -> None:
    def change(entries: object) -> None:
        assert isinstance(entries, list)
        entries.append({**entries[0], "phrases": [entries[0]["phrases"][0], "brand new"]})
        entries.append({"id": "extra", "theme": entries[0]["theme"], "phrases": ["brand new"]})

    edit_yaml(content_copy / LEXICON_FILE, change)
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, "duplicate id"), problems
    assert has_problem(problems, LEXICON_FILE, "[extra].phrases", "'brand new' is"), problems


def test_not_a_list(content_copy: Path) -> None:
    (content_copy / LEXICON_FILE).write_text("pace: [rush]\n", encoding="utf-8")
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, "expected a list"), problems


def test_yaml_syntax_error(content_copy: Path) -> None:
    path = content_copy / LEXICON_FILE
    path.write_text(path.read_text(encoding="utf-8") + "\n- id: [unclosed\n", encoding="utf-8")
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, "(line", "not valid YAML"), problems


def test_reported_with_the_problems_of_other_files(content_copy: Path) -> None:
    edit_first_entry(content_copy, theme="punctuality")

    def change(items: object) -> None:
        assert isinstance(items, list)
        items[0]["theme"] = "no_such_theme"

    edit_yaml(content_copy / "preferences.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, LEXICON_FILE, "theme"), problems
    assert has_problem(problems, "preferences.yaml", "theme"), problems
