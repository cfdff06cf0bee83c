"""The command line on files opens no database: it works when none can be reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailoring.__main__ import main
from tailoring.services import demo_case_paths

DEMO = str(demo_case_paths()[-1])
BUNDLE = "bundle.json"


@pytest.mark.parametrize(
    "args",
    [
        ["assess", DEMO],
        ["grade", "cbt_debt_signpost", DEMO],
        ["fhir", "export", DEMO],
        ["fhir", "import", BUNDLE],
    ],
    ids=["assess", "grade", "fhir-export", "fhir-import"],
)
@pytest.mark.parametrize("folder", ["missing", "present"])
def test_file_commands_open_no_database(
    args: list[str], folder: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    # In a folder that does not exist the database cannot be opened; in one that does, opening it
    # would create the file. In this process (a program run costs seconds:
    # tests/integration/test_programs.py runs one).
    where = tmp_path / "db"
    if folder == "present":
        where.mkdir()
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{where / 'tailoring.db'}")
    monkeypatch.chdir(tmp_path)
    if BUNDLE in args:
        assert main(["fhir", "export", DEMO]) == 0
        (tmp_path / BUNDLE).write_text(capsys.readouterr().out, encoding="utf-8")

    assert main(args) == 0

    assert capsys.readouterr().out.strip()
    assert not (where / "tailoring.db").exists()
