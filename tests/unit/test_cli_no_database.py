"""The command line on files opens no database: it works when none can be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
def test_file_commands_open_no_database(args: list[str], folder: str, tmp_path: Path) -> None:
    # In a folder that does not exist the database cannot be opened; in one that does, opening it
    # would create the file.
    where = tmp_path / "db"
    if folder == "present":
        where.mkdir()
    database = f"sqlite:///{where / 'tailoring.db'}"
    if BUNDLE in args:
        exported = run_cli(["fhir", "export", DEMO], database, tmp_path)
        assert exported.returncode == 0, exported.stderr
        (tmp_path / BUNDLE).write_text(exported.stdout, encoding="utf-8")

    result = run_cli(args, database, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr
    assert not (where / "tailoring.db").exists()
