"""scripts/run's steps before the app starts, recorded by a stand-in for the project's python."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDING_PYTHON = '#!/usr/bin/env bash\necho "$*" >> "$(dirname "$0")/../../ran.txt"\n'


def run_script(folder: Path, **env: str) -> list[str]:
    """Run a copy of scripts/run in ``folder``; the python commands it ran, in order."""
    (folder / "scripts").mkdir(exist_ok=True)
    for name in ("run", "venv.sh"):
        shutil.copy2(ROOT / "scripts" / name, folder / "scripts" / name)
    for requirements in ROOT.glob("requirements*.txt"):
        shutil.copy2(requirements, folder / requirements.name)
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(RECORDING_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    (folder / "ran.txt").unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAILORING_")}
    subprocess.run(
        ["bash", "scripts/run", "--server.port", "8502"],
        cwd=folder,
        env={**environment, **env},
        check=True,
        timeout=60,
    )
    ran = (folder / "ran.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in ran if not line.startswith("-m pip install")]


def test_the_embedded_default_is_upgraded_then_given_a_caseload_if_new_then_started(tmp_path):
    assert run_script(tmp_path) == [
        "-m tailoring db upgrade",
        "-m tailoring demo --cases 200 --into-db --if-new",
        "-m streamlit run app.py --server.port 8502",
    ]


def test_a_database_named_by_the_environment_gets_no_invented_cases(tmp_path):
    assert run_script(tmp_path, TAILORING_DATABASE_URL="postgresql+psycopg://app@db/team") == [
        "-m tailoring db upgrade",
        "-m streamlit run app.py --server.port 8502",
    ]
