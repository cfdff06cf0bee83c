"""The demo command storing invented cases in a database, through the caseload import."""

from __future__ import annotations

import re

import pytest

from tailoring import services
from tailoring.__main__ import main
from tests.store import app_store


def test_the_demo_goes_into_the_configured_database_with_its_figures(
    tmp_path, monkeypatch, capsys, upgrade
):
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    upgrade(url)

    assert main(["demo", "--cases", "6", "--into-db"]) == 0
    assert main(["demo", "--cases", "4", "--seed", "2", "--into-db"]) == 0

    printed = capsys.readouterr().out
    assert re.search(r"stored 6 invented cases in [\d.]+ s and computed their figures", printed)
    assert "stored 4 invented cases" in printed
    references = sorted(c.reference for c in services.list_cases())
    assert references == sorted(f"DEMO-{10001 + n}" for n in [*range(6), *range(8, 12)])
    stamp = services.caseload_stamp()
    assert (stamp.cases, stamp.without_figures) == (10, 0)


def test_the_demo_goes_into_the_database_named(tmp_path, monkeypatch, capsys, upgrade):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", other)
    named = f"sqlite:///{tmp_path / 'named.db'}"
    upgrade(other)
    upgrade(named)

    assert main(["demo", "--cases", "3", "--database", named]) == 0

    assert "stored 3 invented cases" in capsys.readouterr().out
    assert app_store().cases.count() == 3
    monkeypatch.setenv("TAILORING_DATABASE_URL", other)
    assert app_store().cases.count() == 0


def test_the_demo_goes_to_one_place_only(tmp_path, capsys):
    out = tmp_path / "demo.json"
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--into-db", "--out", str(out)])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not out.exists()


def test_the_demo_asks_for_an_upgrade_of_a_new_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["demo", "--cases", "2", "--into-db"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("the demo cases were not stored: The database has no tables yet")
    assert "`python -m tailoring db upgrade`" in said
