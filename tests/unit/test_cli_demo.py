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


def test_a_new_database_gets_the_demo_cases_and_an_invented_caseload_once(
    tmp_path, monkeypatch, capsys, upgrade
):
    # What scripts/run does before each start of the app on the embedded default.
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'first.db'}")
    monkeypatch.delenv("TAILORING_DEMO", raising=False)
    upgrade(f"sqlite:///{tmp_path / 'first.db'}")
    first_start = ["demo", "--cases", "200", "--into-db", "--if-new"]

    assert main(first_start) == 0
    assert main(first_start) == 0
    services.start()

    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"stored the 5 demo cases and 200 invented cases in .* s", printed[0])
    assert printed[1] == "no demo cases stored: the database is not new (or TAILORING_DEMO is 0)"
    references = [c.reference for c in services.list_cases()]
    assert len(references) == 205
    assert {f"DEMO-00{n}" for n in range(1, 6)} <= set(references)
    assert services.caseload_stamp().without_figures == 0
    rates = services.caseload_overview(services.caseload_frame()).rates
    # Enough finished courses that the page shows rates, not "n of d".
    assert rates.finished > 50 and not rates.recovery.small
    assert 0 < (rates.recovery.value or 0) < 1


def test_only_a_new_database_gets_them(tmp_path, monkeypatch, capsys, upgrade):
    url = f"sqlite:///{tmp_path / 'used.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    upgrade(url)
    services.start(load_demo=True)
    for case in services.list_cases():
        services.delete_case(case.id)  # every case deleted: used all the same, by the audit log
    assert main(["demo", "--cases", "3", "--into-db", "--if-new"]) == 0
    assert app_store().cases.count() == 0

    demo_off = f"sqlite:///{tmp_path / 'demo-off.db'}"
    upgrade(demo_off)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    assert main(["demo", "--cases", "3", "--database", demo_off, "--if-new"]) == 0
    assert app_store().cases.count() == 0

    assert main(["demo", "--cases", "3", "--if-new"]) == 2
    said = capsys.readouterr()
    assert said.out.count("no demo cases stored: the database is not new") == 2
    assert said.err == "--if-new: give --into-db or --database\n"
