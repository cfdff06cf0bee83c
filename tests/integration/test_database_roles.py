"""PostgreSQL with two roles: the owner migrates, the app's role works but cannot touch the log.

The setup of docs/team-mode.md ("Database roles"), on a throwaway database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tailoring import services
from tailoring.__main__ import main
from tailoring.storage.db import build_engine, make_engine
from tailoring.storage.errors import MayNotMigrate, SchemaOutdated
from tests.integration.conftest import POSTGRES_URL, fresh_postgres_database
from tests.integration.helpers import make_case
from tests.store import Store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="set TAILORING_TEST_POSTGRES_URL to test PostgreSQL"
    ),
]


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str


@pytest.fixture
def roles() -> Iterator[Roles]:
    """An owner role that may create tables, and an app role that may not, on a new database."""
    assert POSTGRES_URL
    suffix = uuid.uuid4().hex[:12]
    owner, app = f"tailoring_owner_{suffix}", f"tailoring_app_{suffix}"
    for url in fresh_postgres_database(POSTGRES_URL):
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
            connection.execute(text(f"CREATE ROLE {app} LOGIN"))
            connection.execute(text(f"GRANT CREATE ON SCHEMA public TO {owner}"))
        as_role = make_url(url)
        try:
            yield Roles(
                owner,
                app,
                as_role.set(username=owner).render_as_string(hide_password=False),
                as_role.set(username=app).render_as_string(hide_password=False),
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP OWNED BY {owner}, {app} CASCADE"))
                connection.execute(text(f"DROP ROLE {owner}"))
                connection.execute(text(f"DROP ROLE {app}"))
            admin.dispose()


@pytest.fixture
def app_engine(roles: Roles) -> Iterator[Engine]:
    """The app's engine as the app's role, after the owner migrated and granted."""
    assert main(["db", "upgrade", "--database", roles.owner_url]) == 0
    assert main(["db", "grant", roles.app, "--database", roles.owner_url]) == 0
    engine = make_engine(roles.app_url)
    yield engine
    engine.dispose()


def test_the_app_role_works(app_engine: Engine) -> None:
    store = Store.on(app_engine)
    case_id = store.cases.create(make_case())
    log = Store.on(app_engine).audit
    log.record("dr.a", "created", case_id, "CASE-001")
    store.cases.delete(case_id)
    log.record("dr.a", "deleted", case_id, "CASE-001")
    assert [e.action for e in log.entries()] == ["deleted", "created"]
    assert log.check().entries == 2


def test_the_app_use_cases_run_as_the_app_role(
    app_engine: Engine, roles: Roles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", roles.app_url)
    services.start(load_demo=True)
    demo = services.list_cases()[0]
    services.open_case(demo.id)
    copy = services.duplicate_case(demo.id, "COPY-001")
    services.delete_case(copy)
    actions = [e.action for e in services.audit_entries()]
    assert actions[:3] == ["deleted", "created", "viewed"]
    assert services.check_audit_chain().intact


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("DELETE FROM audit_log", "permission denied"),
        ("UPDATE audit_log SET actor = 'someone else'", "permission denied"),
        ("TRUNCATE audit_log", "permission denied"),
        ("ALTER TABLE audit_log DISABLE TRIGGER USER", "must be owner"),
        ("DROP TRIGGER audit_log_append_only ON audit_log", "must be owner"),
        ("DROP TABLE audit_log", "must be owner"),
        ("UPDATE alembic_version SET version_num = '0001'", "permission denied"),
        ("CREATE TABLE audit_copy (id integer)", "permission denied"),
    ],
)
def test_the_app_role_cannot_touch_the_log(app_engine: Engine, statement: str, refusal: str):
    log = Store.on(app_engine).audit
    entry = log.record("dr.a", "login")
    with pytest.raises(DBAPIError, match=refusal), app_engine.begin() as connection:
        connection.execute(text(statement))
    assert log.entries() == [entry]
    assert log.check().intact


def test_the_app_role_is_told_who_must_migrate(roles: Roles, capsys) -> None:
    # The owner has not migrated yet: the app says so before touching anything...
    with pytest.raises(SchemaOutdated, match="db upgrade"):
        make_engine(roles.app_url)
    # ...and an upgrade run as the app's role is refused by the database, saying by whom.
    with pytest.raises(MayNotMigrate, match="db upgrade"):
        services.upgrade_database(roles.app_url)
    assert main(["db", "upgrade", "--database", roles.app_url]) == 2
    assert "as the role that owns the tables" in capsys.readouterr().err


def test_grant_refuses_what_would_not_hold(roles: Roles, capsys) -> None:
    assert main(["db", "grant", roles.app, "--database", roles.owner_url]) == 2
    assert "no tables yet" in capsys.readouterr().err
    assert main(["db", "upgrade", "--database", roles.owner_url]) == 0
    for role, url, words in (
        (roles.owner, roles.owner_url, "owns the tables"),
        ("nobody_here", roles.owner_url, "there is no role nobody_here"),
        (roles.app, roles.app_url, f"run this as {roles.owner}"),
    ):
        assert main(["db", "grant", role, "--database", url]) == 2
        assert words in capsys.readouterr().err


def test_the_owner_sees_what_it_changed(app_engine: Engine, roles: Roles) -> None:
    log = Store.on(app_engine).audit
    entries = [log.record("dr.a", "viewed", n, f"CASE-{n:03}") for n in range(1, 4)]
    owner = build_engine(roles.owner_url)
    with owner.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        connection.execute(text(f"DELETE FROM audit_log WHERE id = {entries[1].id}"))
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    owner.dispose()
    assert log.check().broken_id == entries[2].id
