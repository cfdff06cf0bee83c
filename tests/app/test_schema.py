"""The app never migrates: on an empty or out-of-date schema it says what to run, and stops."""

from __future__ import annotations

import pytest
from alembic import command
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.storage.db import alembic_config, build_engine, schema_revisions
from tests.app.conftest import APP

UPGRADE = "`python -m tailoring db upgrade`"


@pytest.fixture
def unmigrated(tmp_path, monkeypatch) -> str:
    """The URL of a database that no `db upgrade` has touched (the app is pointed at it)."""
    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    return url


def revision(url: str) -> str | None:
    engine = build_engine(url)
    try:
        return schema_revisions(engine)[0]
    finally:
        engine.dispose()


def only_the_schema_message(at: AppTest) -> str:
    """The one message the page shows (no exception, no menu, no case list)."""
    assert not at.exception
    assert [e.value for e in at.error] == [at.error[0].value]
    assert not at.dataframe and not at.title and not at.text_input
    return at.error[0].value


@pytest.mark.parametrize("mode", ["local", "team"])
def test_an_empty_database_gets_the_command_to_run_and_stays_empty(
    unmigrated: str, mode: str, monkeypatch
) -> None:
    monkeypatch.setenv("TAILORING_MODE", mode)
    at = AppTest.from_file(APP, default_timeout=60).run()
    message = only_the_schema_message(at)
    assert "The database has no tables yet" in message
    assert UPGRADE in message
    assert revision(unmigrated) is None


def test_an_out_of_date_schema_gets_the_command_and_the_app_works_once_it_has_run(
    unmigrated: str,
) -> None:
    engine = build_engine(unmigrated)
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0012")
    head = schema_revisions(engine)[1]
    engine.dispose()

    at = AppTest.from_file(APP, default_timeout=60).run()
    message = only_the_schema_message(at)
    assert (
        f"schema is at revision 0012, and this version of the app needs revision {head}" in message
    )
    assert UPGRADE in message
    assert revision(unmigrated) == "0012"

    services.upgrade_database(unmigrated)
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Cases"
    assert sorted(at.dataframe[0].value["Reference"]) == [f"DEMO-00{i}" for i in range(1, 6)]
