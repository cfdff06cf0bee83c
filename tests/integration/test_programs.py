"""`python -m tailoring` run as a program, in a process of its own (each run imports the whole
package: about two seconds). The same commands are unit-tested in this process in
tests/unit/test_cli*.py; these check that the module starts as a program and reads its files,
standard input and environment as a user's shell gives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tailoring.services import demo_case_paths

ROOT = Path(__file__).resolve().parents[2]
DEMO = demo_case_paths()[-1]
PASSWORD = "correct horse battery"


def run(
    args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tailoring", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_assess_runs_as_a_program(tmp_path: Path) -> None:
    case = json.loads(demo_case_paths()[1].read_text())
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))

    result = run(["assess", str(path)])

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["case_reference"] == case["reference"]


def test_code_feedback_runs_as_a_program(tmp_path: Path) -> None:
    path = tmp_path / "feedback.txt"
    path.write_bytes(b"The sessions were too short.\n")

    result = run(["code-feedback", str(path)])

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "text": "The sessions were too short.",
            "themes": [{"id": "pace", "evidence": ["sessions were too short"]}],
        }
    ]


def test_fhir_export_and_import_run_as_programs(tmp_path: Path) -> None:
    exported = run(["fhir", "export", str(DEMO)])
    assert exported.returncode == 0, exported.stderr
    bundle = tmp_path / "bundle.json"
    bundle.write_text(exported.stdout, encoding="utf-8")

    imported = run(["fhir", "import", str(bundle)])

    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["reference"] == json.loads(DEMO.read_text())["reference"]


def test_a_file_command_run_as_a_program_opens_no_database(tmp_path: Path) -> None:
    """Nothing imported on the way opens it either (tests/unit/test_cli_no_database.py checks
    each file command in this process)."""
    where = tmp_path / "db"
    where.mkdir()

    result = run(
        ["assess", str(DEMO)],
        cwd=tmp_path,
        env={"TAILORING_DATABASE_URL": f"sqlite:///{where / 'tailoring.db'}"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr
    assert not (where / "tailoring.db").exists()


def test_users_runs_as_a_program_on_the_configured_database(tmp_path: Path, upgrade) -> None:
    url = f"sqlite:///{tmp_path / 'team.db'}"
    upgrade(url)

    result = run(
        ["users", "add", "adm.z", "--role", "admin", "--password-stdin"],
        env={"TAILORING_DATABASE_URL": url},
        stdin=PASSWORD + "\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "added adm.z (admin)\n"
