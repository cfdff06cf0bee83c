"""The command line on files opens no database: it works when none can be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tailoring.__main__ import main
from tailoring.services import demo_case_paths

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(demo_case_paths()[-1])
BUNDLE = "bundle.json"


def run_cli(args: list[str], database: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAILORING_DATABASE_URL": database}
    return subprocess.run(
        [sys.executable, "-m", "tailoring", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    # would create the file. In this process (a program run costs seconds; the one below is it).
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


def test_a_file_command_run_as_a_program_opens_no_database(tmp_path: Path) -> None:
    """Nothing imported on the way opens it either."""
    where = tmp_path / "db"
    where.mkdir()
    result = run_cli(["assess", DEMO], f"sqlite:///{where / 'tailoring.db'}", tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr
    assert not (where / "tailoring.db").exists()
