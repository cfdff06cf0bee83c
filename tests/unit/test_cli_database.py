"""The ``db`` and ``audit`` command line on a SQLite file: migrating only when told, and the
audit log's chain checked, broken links named."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text

from tailoring.__main__ import main
from tailoring.storage.audit import AuditEntry
from tailoring.storage.db import MIGRATIONS, alembic_config, build_engine, make_engine
from tailoring.storage.errors import SchemaOutdated
from tests.store import Store


@pytest.fixture
def database(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of an empty SQLite file that the command line uses."""
    url = f"sqlite:///{tmp_path / 'tailoring.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    return url


@pytest.fixture
def engine(database: str, upgrade) -> Iterator[Engine]:
    upgrade(database)
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def entries(engine: Engine) -> list[AuditEntry]:
    log = Store.on(engine).audit
    return [log.record("dr.a", "viewed", n, f"CASE-{n:03}") for n in range(1, 6)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def owner_deletes(engine: Engine, where: str) -> None:
    """What the owner of a SQLite file can do: drop the rule, then delete."""
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(text(f"DELETE FROM audit_log WHERE {where}"))


def test_upgrade_migrates_once(database: str, capsys) -> None:
    head = sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py"))[-1][:4]
    assert run(capsys, "db", "upgrade") == (
        0,
        f"migrated the schema from revision none to {head}\n",
        "",
    )
    assert run(capsys, "db", "upgrade", "--database", database)[1] == (
        f"the schema is already at the latest revision, {head}\n"
    )


def test_verify_prints_the_entry_to_record(entries: list[AuditEntry], capsys) -> None:
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert "intact: 5 entries" in out
    assert f"Recorded entry: {entries[-1].id}:{entries[-1].hash}" in out


def test_verify_names_the_first_broken_link(
    engine: Engine, entries: list[AuditEntry], capsys
) -> None:
    owner_deletes(engine, f"id = {entries[2].id}")
    code, out, err = run(capsys, "audit", "verify")
    assert (code, out) == (1, "")
    assert f"first broken link is entry {entries[3].id}" in err
    assert "was deleted" in err
    assert "The 2 entries before it are intact" in err


def test_verify_finds_a_deleted_end_against_the_recorded_entry(
    engine: Engine, entries: list[AuditEntry], capsys
) -> None:
    out = run(capsys, "audit", "verify")[1]
    recorded = re.search(r"Recorded entry: (\S+)", out)
    assert recorded
    owner_deletes(engine, f"id >= {entries[-2].id}")
    assert run(capsys, "audit", "verify")[0] == 0  # the chain alone cannot tell
    code, _, err = run(capsys, "audit", "verify", "--expect", recorded[1])
    assert code == 1
    assert f"ends at entry {entries[-3].id}" in err


def test_verify_refuses_a_malformed_recorded_entry(engine: Engine, capsys) -> None:
    assert run(capsys, "audit", "verify", "--expect", "12:abc") == (
        2,
        "",
        "--expect: give ID:HASH as printed by an earlier check\n",
    )


def test_verify_asks_for_an_upgrade_of_an_old_schema(database: str, capsys) -> None:
    code, _, err = run(capsys, "audit", "verify")
    assert code == 2
    assert "python -m tailoring db upgrade" in err


def test_grant_is_for_postgresql(engine: Engine, capsys) -> None:
    assert run(capsys, "db", "grant", "tailoring_app") == (
        2,
        "",
        "database roles are PostgreSQL's: SQLite has none to grant\n",
    )


def test_only_an_upgrade_migrates_and_until_then_commands_say_which_to_run(
    database: str, capsys
) -> None:
    with pytest.raises(SchemaOutdated, match=r"has no tables yet.*python -m tailoring db upgrade"):
        make_engine(database)
    bare = build_engine(database)
    with bare.connect() as connection:
        command.upgrade(alembic_config(connection), "0012")
    bare.dispose()
    with pytest.raises(SchemaOutdated, match=r"schema is at revision 0012.*db upgrade"):
        make_engine(database)
    code, _, err = run(capsys, "users", "list")
    assert (code, "python -m tailoring db upgrade" in err) == (2, True)

    code, out, _ = run(capsys, "db", "upgrade")
    assert (code, out.startswith("migrated the schema from revision 0012 to ")) == (0, True)
    make_engine(database).dispose()
