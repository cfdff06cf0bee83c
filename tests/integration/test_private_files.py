"""A SQLite database file, its journal and the folder the app makes are its owner's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from tailoring.storage import db
from tailoring.storage.db import upgraded_engine
from tailoring.storage.tables import cases
from tests.integration.helpers import make_case
from tests.store import Store


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files are created world-readable unless asked not to."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_and_its_journal_are_private(usual_umask: None, tmp_path: Path) -> None:
    folder = tmp_path
    engine = upgraded_engine(f"sqlite:///{folder / 'tailoring.db'}")
    try:
        Store.on(engine).cases.create(make_case("P-001"))
        with engine.begin() as connection:  # a write in progress keeps its journal file
            connection.execute(update(cases).values(step="plan"))
            files = {f.name: oct(mode(f)) for f in folder.iterdir()}
    finally:
        engine.dispose()
    assert files == {"tailoring.db": "0o600", "tailoring.db-journal": "0o600"}


def test_a_missing_folder_is_made_private(usual_umask: None, tmp_path: Path) -> None:
    upgraded_engine(f"sqlite:///{tmp_path / 'new' / 'data' / 'tailoring.db'}").dispose()
    assert mode(tmp_path / "new" / "data") == 0o700


def test_an_existing_file_keeps_the_permissions_its_owner_gave_it(
    usual_umask: None, tmp_path: Path
) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    upgraded_engine(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o640


def test_the_default_data_folder_is_made_private(
    usual_umask: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAILORING_DATABASE_URL", raising=False)
    monkeypatch.setattr(db, "REPO_ROOT", tmp_path)
    assert db.database_url() == f"sqlite:///{tmp_path / 'data' / 'tailoring.db'}"
    assert mode(tmp_path / "data") == 0o700


def test_an_in_memory_database_makes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upgraded_engine("sqlite://").dispose()
    upgraded_engine("sqlite:///:memory:").dispose()
    assert list(tmp_path.iterdir()) == []
